"""Mail import benchmark: N mails from the fake Graph server into PostgreSQL, end to end.

The fake runs in a child process, so the CPU time measured here is ours alone, for the whole pass
(Graph client, MIME parsing, parsers, database work, the missed-run check that follows). Prints
mails per second and CPU milliseconds per mail. Targets (issue 4): at least 50 mails/s and at most
10 ms of CPU per mail.

    python bench/import.py [--mails 5000] [--database-url postgresql://postgres@127.0.0.1:5432/bc_bench_import]
    python bench/import.py --profile import.prof [--profile-clock cpu|wall]

A profile timed by CPU (the default) shows where our CPU goes; by wall clock, also where the pass
waits (database, Graph fake). Profiling slows the pass down several times: its figures are not the
benchmark's.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.fakes and tests.mailfactory

from _pg import bench_app, fresh_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from tests.mailfactory import FIXTURES, variant  # noqa: E402

from backend.app.clients.graph import GraphClient  # noqa: E402
from backend.app.extensions import db  # noqa: E402
from backend.app.jobs import mail_import  # noqa: E402
from backend.app.models import JobRun, MailMessage  # noqa: E402
from backend.app.services.customers import create_customer  # noqa: E402
from backend.app.services.inbox import approve_inbox_mail  # noqa: E402
from backend.app.services.mail_ingest import ingest_message  # noqa: E402
from backend.app.services.settings import MailImportSettingsInput, update_mail_import_settings  # noqa: E402


def serve_fake(mails: int, settings_queue, stop_event) -> None:
    from tests.fakes.graph_server import running_graph_fake

    fixtures = sorted(FIXTURES.glob("*/*.eml"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder, running_graph_fake(Path(folder)) as fake:
        for i in range(mails):
            raw = fixtures[i % len(fixtures)].read_bytes()
            fake.add_message(variant(raw, f"<bench-{i}@bench.example>", start + timedelta(minutes=i)))
        settings_queue.put({**fake.client_settings(), "ca_path": str(fake.ca_path)})
        stop_event.wait()


def prepare_jobs(fake: dict, session) -> None:
    """Approve one mail of every parsed fixture first, so most benchmark mails become runs of known jobs
    (the everyday case) rather than all waiting in the Inbox."""
    customer = create_customer(None, "Benchmark customer")
    for i, path in enumerate(sorted(FIXTURES.glob("*/*.eml"))):
        mail = ingest_message(variant(path.read_bytes(), f"<prepare-{i}@bench.example>")).mail
        if mail.parsed and mail.location == "inbox":
            approve_inbox_mail(None, mail, customer)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--database-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/bc_bench_import")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--profile", metavar="FILE", help="Write a cProfile of the pass to FILE.")
    parser.add_argument("--profile-clock", choices=("cpu", "wall"), default="cpu",
                        help="What the profile times (default: our CPU time).")
    args = parser.parse_args()

    settings_queue = multiprocessing.Queue()
    stop_event = multiprocessing.Event()
    fake_process = multiprocessing.Process(target=serve_fake, args=(args.mails, settings_queue, stop_event))
    fake_process.start()
    try:
        fake = settings_queue.get(timeout=600)
        app = bench_app(fresh_database(args.database_url))
        import requests

        session = requests.Session()
        session.trust_env = False
        session.verify = fake["ca_path"]
        with app.app_context():
            update_mail_import_settings(None, MailImportSettingsInput(
                tenant_id=fake["tenant_id"], client_id=fake["client_id"], client_secret=fake["client_secret"],
                mailbox=fake["mailbox"], source_folder="Inbox", processed_folder="Processed",
                authority_url=fake["authority_base_url"], graph_base_url=fake["graph_base_url"], enabled=True,
                interval_minutes=15, batch_size=args.batch_size))
            db.session.commit()
            prepare_jobs(fake, session)
            db.session.remove()

        def client() -> GraphClient:
            return GraphClient(tenant_id=fake["tenant_id"], client_id=fake["client_id"],
                               client_secret=fake["client_secret"], mailbox=fake["mailbox"], session=session,
                               authority_base_url=fake["authority_base_url"], graph_base_url=fake["graph_base_url"])

        # The pass in an app context of its own, as the background runner gives it (nothing read
        # while preparing is remembered).
        timer = time.process_time if args.profile_clock == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer) if args.profile else None
        with app.app_context():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            summary = mail_import.run_once(datetime.now(UTC), force=True, client_factory=client)
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
            db.session.remove()
        if profiler:
            profiler.dump_stats(args.profile)
        with app.app_context():
            stored = db.session.scalar(select(func.count(MailMessage.id)))
            runs = db.session.scalar(select(func.count(JobRun.id)))
        print(f"mails imported:      {summary.stored} of {args.mails} ({len(summary.errors)} errors; "
              f"{stored} stored, {runs} runs)")
        print(f"wall time:           {wall:.1f} s")
        print(f"mails per second:    {summary.stored / wall:.1f}   (target >= 50)")
        print(f"CPU per mail (ours): {1000 * cpu / max(1, summary.stored):.2f} ms   (target <= 10)")
    finally:
        stop_event.set()
        fake_process.join(timeout=30)


if __name__ == "__main__":
    main()
