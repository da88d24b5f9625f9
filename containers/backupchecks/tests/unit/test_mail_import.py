"""The mail import pass against the fake Graph server: paging, move after commit, crash windows,
two importers, wrong credentials. Whatever fails, every mail ends stored exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from backend.app import create_app
from backend.app.clients.graph import GraphClient
from backend.app.database import upgrade_schema
from backend.app.extensions import db
from backend.app.jobs import mail_import
from backend.app.models import AuditLog, BackgroundTask, Job, JobRun, MailMessage
from backend.app.services.inbox import approve_inbox_mail
from backend.app.services.settings import MailImportSettingsInput, get_settings, update_mail_import_settings

from ..conftest import make_test_config, separate_database_url
from ..factories import make_customer, make_user
from ..fakes.graph_server import running_graph_fake
from ..mailfactory import fixture_mail, simple_mail, variant

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PROCESSED = "Backupchecks processed"


def _configure(fake, enabled: bool = True, batch_size: int = 50) -> None:
    s = fake.client_settings()
    update_mail_import_settings(make_user("admin"), MailImportSettingsInput(
        tenant_id=s["tenant_id"], client_id=s["client_id"], client_secret=s["client_secret"], mailbox=s["mailbox"],
        source_folder="Inbox", processed_folder=PROCESSED, authority_url=s["authority_base_url"],
        graph_base_url=s["graph_base_url"], enabled=enabled, interval_minutes=15, batch_size=batch_size))
    db.session.commit()


def _client_factory(fake):
    def factory() -> GraphClient:
        return GraphClient(**fake.client_settings(), session=fake.session(), sleep=lambda _s: None)

    return factory


def _fill(fake, count: int, start: int = 0) -> list[str]:
    """``count`` mails of one job (nightly 3CX backups), distinct Message-IDs."""
    ids = []
    raw = fixture_mail("3cx/3cx-backup-success.eml")
    for i in range(start, start + count):
        message_id = f"<night{i:04d}@pbx.example.com>"
        fake.add_message(variant(raw, message_id, NOW - timedelta(days=count - i)))
        ids.append(message_id)
    return ids


def _stored_ids() -> list[str]:
    return list(db.session.scalars(select(MailMessage.internet_message_id)))


def _assert_each_stored_once(fake, expected_ids: list[str]) -> None:
    stored = _stored_ids()
    assert sorted(stored) == sorted(set(stored)) == sorted(expected_ids)
    runs = db.session.scalars(select(JobRun.mail_message_id).where(JobRun.mail_message_id.is_not(None))).all()
    assert len(runs) == len(set(runs))
    processed = sorted(m.internet_message_id for m in fake.messages_in(PROCESSED))
    assert processed == sorted(expected_ids)
    assert fake.messages_in("inbox") == []


def test_pass_pages_through_the_folder_and_moves_after_storing(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 123)
        _configure(fake, batch_size=50)
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.listed == 123 and summary.stored == 123 and summary.moved == 123 and not summary.errors
        # Listing followed the fake's nextLinks (3 pages of at most 50), asking only for what the pass uses.
        assert len(fake.next_links) == 2
        listings = [r for r in fake.graph_requests() if r.method == "GET" and r.path.endswith("/messages")]
        assert [r.query.get("$select") for r in listings[:1]] == ["id,internetMessageId,receivedDateTime"]
        _assert_each_stored_once(fake, ids)
        task = db.session.get(BackgroundTask, "mail_import")
        assert task.last_status == "ok" and task.lease_holder is None and "123 new" in task.last_summary
        assert db.session.scalar(select(AuditLog).where(AuditLog.event_type == "mail_import")).message.startswith(
            "Mail import: 123 listed")


def _downloads_and_moves(fake) -> str:
    """The pass's message requests in order: D for a MIME download, M for a move."""
    return "".join("D" if r.path.endswith("/$value") else "M" for r in fake.graph_requests()
                   if r.path.endswith("/$value") or r.path.endswith("/move"))


def test_mails_are_stored_in_groups_and_moved_after_their_group(app, tmp_path: Path):
    size = mail_import.GROUP_SIZE
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, size + 3)
        _configure(fake)
        mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert _downloads_and_moves(fake) == "D" * size + "M" * size + "DDDMMM"
        _assert_each_stored_once(fake, ids)


def test_a_group_of_large_mails_closes_early(app, tmp_path: Path):
    big = mail_import.GROUP_BYTES // 2 + 1
    with running_graph_fake(tmp_path) as fake:
        ids = []
        for i in range(3):
            ids.append(f"<big{i}@example.com>")
            fake.add_message(simple_mail(f"Report {i}", message_id=ids[-1],
                                         attachment=("report.bin", "application/octet-stream", b"x" * big)))
        _configure(fake)
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.stored == 3 and not summary.errors
        assert _downloads_and_moves(fake) == "DDMMDM"
        _assert_each_stored_once(fake, ids)


def test_known_job_mails_become_runs(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 3)
        _configure(fake)
        mail_import.run_once(NOW, client_factory=_client_factory(fake))
        first = db.session.scalar(select(MailMessage).limit(1))
        approve_inbox_mail(make_user("operator"), first, make_customer())
        db.session.commit()
        more = _fill(fake, 2, start=100)
        summary = mail_import.run_once(NOW + timedelta(hours=1), client_factory=_client_factory(fake))
        assert summary.runs == 2
        assert db.session.scalar(select(func.count(JobRun.id))) == 5
        _assert_each_stored_once(fake, ids + more)


def test_not_due_and_disabled_passes_do_nothing(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        _fill(fake, 2)
        _configure(fake, enabled=False)
        assert mail_import.run_once(NOW, client_factory=_client_factory(fake)) is None
        _configure(fake, enabled=True)
        assert mail_import.run_once(NOW, client_factory=_client_factory(fake)).stored == 2
        # Interval is 15 minutes.
        assert mail_import.run_once(NOW + timedelta(minutes=5), client_factory=_client_factory(fake)) is None
        assert mail_import.run_once(NOW + timedelta(minutes=16), client_factory=_client_factory(fake)) is not None


def test_failure_between_commit_and_move_is_recovered_by_the_next_pass(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 5)
        _configure(fake)
        fake.fail_move(ids[1], status=500)
        fake.fail_move(ids[3], after_move=True)  # moved, but the answer is lost
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.stored == 5 and len(summary.errors) == 2
        assert "stored, but not moved" in summary.errors[0]
        assert [m.internet_message_id for m in fake.messages_in("inbox")] == [ids[1]]
        task = db.session.get(BackgroundTask, "mail_import")
        assert task.last_status == "error"
        summary = mail_import.run_once(NOW + timedelta(minutes=20), client_factory=_client_factory(fake))
        assert summary.listed == 1 and summary.duplicates == 1 and summary.stored == 0 and summary.moved == 1
        _assert_each_stored_once(fake, ids)


class _CrashingClient(GraphClient):
    """A client whose process 'dies' (an unexpected exception) at a chosen step for one message."""

    def __init__(self, *args, crash_on: str, step: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.crash_on, self.step = crash_on.encode(), step

    def _is_target(self, message_id: str) -> bool:
        return self.crash_on in super().get_mime(message_id)

    def get_mime(self, message_id: str) -> bytes:
        raw = super().get_mime(message_id)
        if self.step == "after_download" and self.crash_on in raw:
            raise RuntimeError("simulated crash after download")
        return raw

    def move_message(self, message_id: str, destination_folder_id: str) -> str:
        target = self._is_target(message_id)
        if self.step == "before_move" and target:
            raise RuntimeError("simulated crash before move")
        new_id = super().move_message(message_id, destination_folder_id)
        if self.step == "after_move" and target:
            raise RuntimeError("simulated crash after move")
        return new_id


@pytest.mark.parametrize("step", ["after_download", "before_move", "after_move"])
def test_a_crash_at_any_step_loses_nothing_and_duplicates_nothing(app, tmp_path: Path, step: str):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 6)
        first = db.session.scalar(select(func.count(MailMessage.id)))
        assert first == 0
        _configure(fake)

        def crashing() -> GraphClient:
            return _CrashingClient(**fake.client_settings(), session=fake.session(), sleep=lambda _s: None,
                                   crash_on=ids[2], step=step)

        with pytest.raises(RuntimeError, match="simulated crash"):
            mail_import.run_once(NOW, client_factory=crashing)
        task = db.session.get(BackgroundTask, "mail_import")
        assert task.last_status == "error" and task.lease_holder is None
        assert db.session().expire_on_commit  # the pass's own session setting does not outlive it
        # The next pass, without the fault, completes the work.
        mail_import.run_once(NOW + timedelta(minutes=20), client_factory=_client_factory(fake))
        _assert_each_stored_once(fake, ids)


@contextmanager
def _database_refusing(internet_message_id: str) -> Iterator[None]:
    """A trigger that makes the database refuse to store one mail, as a failing INSERT would."""
    literal = internet_message_id.replace("'", "''")
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION refuse_one_mail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.internet_message_id = '{literal}' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
            "RETURN NEW; END $$"))
        db.session.execute(text("CREATE TRIGGER refuse_one_mail BEFORE INSERT ON mail_messages "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_one_mail()"))
    else:
        db.session.execute(text(f"CREATE TRIGGER refuse_one_mail BEFORE INSERT ON mail_messages "
                                f"WHEN NEW.internet_message_id = '{literal}' "
                                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.execute(text("DROP TRIGGER refuse_one_mail" + (
            " ON mail_messages" if db.session.get_bind().dialect.name == "postgresql" else "")))
        db.session.commit()


def test_a_mail_the_database_refuses_stays_behind_alone(app, tmp_path: Path):
    """Mails are stored in groups; when one fails, the others of its group are still stored and moved."""
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 6)
        _configure(fake)
        with _database_refusing(ids[2]):
            summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
            assert (summary.stored, summary.moved, len(summary.errors)) == (5, 5, 1)
            assert summary.errors[0].startswith(f"{ids[2]}: not stored:") and "refused by the test" in summary.errors[0]
            assert [m.internet_message_id for m in fake.messages_in("inbox")] == [ids[2]]
            assert sorted(_stored_ids()) == sorted(ids[:2] + ids[3:])
        summary = mail_import.run_once(NOW + timedelta(minutes=20), client_factory=_client_factory(fake))
        assert (summary.listed, summary.stored, summary.errors) == (1, 1, [])
        _assert_each_stored_once(fake, ids)


class _DeletingClient(GraphClient):
    """Downloading one message, an operator deletes the job meanwhile, in another session: the row
    changes, the job object the pass holds does not."""

    def __init__(self, *args, delete_on: str, job_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.delete_on, self.job_id = delete_on.encode(), job_id

    def get_mime(self, message_id: str) -> bytes:
        raw = super().get_mime(message_id)
        if self.delete_on in raw:
            jobs = Job.__table__
            db.session.execute(update(jobs).where(jobs.c.id == self.job_id).values(deleted_at=NOW))
            db.session.commit()
        return raw


def test_a_job_deleted_during_a_pass_gets_no_more_runs(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        _fill(fake, 1)
        _configure(fake)
        mail_import.run_once(NOW, client_factory=_client_factory(fake))
        job = approve_inbox_mail(make_user("operator"), db.session.scalar(select(MailMessage)), make_customer()).job
        db.session.commit()
        size = mail_import.GROUP_SIZE
        ids = _fill(fake, size + 10, start=100)

        def deleting() -> GraphClient:
            return _DeletingClient(**fake.client_settings(), session=fake.session(), sleep=lambda _s: None,
                                   delete_on=ids[size + 5], job_id=job.id)

        summary = mail_import.run_once(NOW + timedelta(hours=1), client_factory=deleting)
        # The first group became runs of the job; the second group, stored after the delete, waits
        # in the Inbox (for a new job) instead of becoming runs of a deleted one.
        assert (summary.stored, summary.runs, summary.errors) == (size + 10, size, [])
        where = dict(db.session.execute(select(MailMessage.internet_message_id, MailMessage.location)).all())
        assert [where[i] for i in ids] == ["processed"] * size + ["inbox"] * 10
        run_mails = set(db.session.scalars(select(JobRun.mail_message_id).where(JobRun.job_id == job.id)))
        assert len(run_mails) == size + 1


def test_throttling_and_outages_are_waited_out(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 4)
        _configure(fake)
        fake.throttle_next(2, retry_after="0.05")
        fake.unavailable_next(1, retry_after="1")
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.stored == 4 and not summary.errors
        _assert_each_stored_once(fake, ids)


def test_expired_token_mid_pass_is_renewed(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 3)
        _configure(fake)
        client = _client_factory(fake)()
        client.acquire_token()
        fake.expire_tokens()
        summary = mail_import.run_once(NOW, client_factory=lambda: client)
        assert summary.stored == 3 and not summary.errors
        _assert_each_stored_once(fake, ids)


def test_wrong_credentials_are_reported_and_nothing_is_lost(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        _fill(fake, 2)
        _configure(fake)
        fake.reject_credentials = True
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.stored == 0 and "AADSTS7000215" in summary.errors[0]
        task = db.session.get(BackgroundTask, "mail_import")
        assert task.last_status == "error" and "AADSTS7000215" in task.last_error
        failure = db.session.scalar(select(AuditLog).where(AuditLog.event_type == "mail_import_failed"))
        assert "AADSTS7000215" in failure.message
        assert len(fake.messages_in("inbox")) == 2 and _stored_ids() == []


def test_graph_error_envelope_becomes_a_clear_message(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        _fill(fake, 1)
        _configure(fake)
        fake.deny_access = True
        summary = mail_import.run_once(NOW, client_factory=_client_factory(fake))
        assert summary.errors[0].startswith("Graph 403 ErrorAccessDenied:")


def test_settings_client_uses_the_stored_encrypted_secret(app, tmp_path: Path):
    with running_graph_fake(tmp_path) as fake:
        _configure(fake)
        settings = get_settings()
        stored = settings.graph_client_secret_encrypted
        assert stored and fake.client_secret not in stored
        from backend.app.services.graph_settings import graph_client_from_settings

        client = graph_client_from_settings(settings, fake.session())
        assert client.acquire_token()




def test_two_importers_at_once_store_each_mail_once(tmp_path: Path):
    """Two instances start a pass at the same moment on their own connections: the lease lets one
    run; whatever the interleaving, each mail is stored once."""
    app = create_app(make_test_config(separate_database_url(tmp_path, "importers")), run_migrations=False)
    app.instance_path = str(tmp_path)
    upgrade_schema(app)
    with running_graph_fake(tmp_path) as fake:
        ids = _fill(fake, 40)
        with app.app_context():
            _configure(fake)
            db.session.remove()
        results: list = []
        barrier = threading.Barrier(2)

        def importer() -> None:
            with app.app_context():
                barrier.wait()
                results.append(mail_import.run_once(NOW, force=True, client_factory=_client_factory(fake)))
                db.session.remove()

        threads = [threading.Thread(target=importer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        with app.app_context():
            ran = [r for r in results if r is not None]
            assert len(results) == 2 and len(ran) >= 1
            assert sum(r.stored for r in ran) == 40
            _assert_each_stored_once(fake, ids)
            db.session.remove()
            db.engine.dispose()
