"""The loop that runs the background passes.

Each pass is a ``run_once(now_at)`` function that decides for itself whether it is due and takes its
lease, so the loop only has to call them regularly and survive their failures. It runs as a thread
in each web process (APP_BACKGROUND_JOBS) or alone with ``backupchecks jobs run``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask

from ..extensions import db
from ..models.types import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0


def default_passes() -> list[tuple[str, Callable[[datetime], object]]]:
    from . import autotask_sync, cove_import, mail_import, missed_runs

    return [("mail_import", mail_import.run_once), ("missed_runs", missed_runs.run_once),
            ("autotask_sync", autotask_sync.run_once), ("cove_import", cove_import.run_once)]


class BackgroundRunner:
    def __init__(self, app: Flask, passes: list[tuple[str, Callable[[datetime], object]]] | None = None,
                 tick_seconds: float = TICK_SECONDS) -> None:
        self.app = app
        self.passes = passes if passes is not None else default_passes()
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_passes(self, now_at: datetime | None = None) -> None:
        """Call every pass once; a failing pass is logged and does not stop the others."""
        with self.app.app_context():
            for name, run_once in self.passes:
                try:
                    run_once(now_at or utcnow())
                except Exception:
                    log.exception("background pass %s failed", name)
                    db.session.rollback()
                finally:
                    db.session.remove()

    def run_forever(self) -> None:
        log.info("background runner started (%s)", ", ".join(name for name, _ in self.passes))
        while not self._stop.is_set():
            self.run_passes()
            self._stop.wait(self.tick_seconds)
        log.info("background runner stopped")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="backupchecks-background", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def start_background_jobs(app: Flask) -> BackgroundRunner:
    import atexit

    runner = BackgroundRunner(app)
    runner.start()
    atexit.register(runner.stop)
    app.extensions["backupchecks_runner"] = runner
    return runner


def run_in_background(app: Flask, name: str, work: Callable[[datetime], object]) -> threading.Thread:
    """Run one pass now in its own thread (the "Import now" and "Re-parse all" buttons); the pass
    takes its own lease, so a click while one runs does nothing."""

    def target() -> None:
        with app.app_context():
            try:
                work(utcnow())
            except Exception:
                log.exception("background pass %s failed", name)
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name=f"backupchecks-{name}", daemon=True)
    thread.start()
    return thread
