from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Engine

from backend.app.extensions import db
from backend.app.models import CustomerObject, Job, JobObjectLink, JobRun, MailMessage, RunObjectLink
from backend.app.services.inbox import (
    InboxError,
    approve_inbox_mail,
    approve_inbox_mails,
    delete_mails,
    purge_mails,
    reparse_mail,
    restore_mails,
    suggest_customer,
)
from backend.app.services.mail_ingest import NO_PARSER_ERROR, ingest_message, message_id_for
from backend.app.services.overrides import OverrideInput, create_override

from ..factories import make_customer, make_job, make_user
from ..mailfactory import fixture_mail, variant

SUCCESS = "3cx/3cx-backup-success.eml"
FAILED = "3cx/3cx-backup-failed.eml"
UNKNOWN = "3cx/3cx-trunk-not-parsed.eml"
HYPER_BACKUP = "synology/hb-en-success.eml"


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_unknown_job_waits_in_the_inbox_parsed(app):
    result = ingest_message(fixture_mail(SUCCESS))
    mail = result.mail
    assert result.created and result.run is None
    assert mail.location == "inbox" and mail.parser_key == "3cx_backup" and mail.parse_error is None
    assert (mail.backup_software, mail.job_name, mail.overall_status) == ("3CX", "pbx.example.com", "success")
    assert mail.internet_message_id == "<3cx.backup.20240305@pbx.example.com>"
    assert mail.raw_mime == fixture_mail(SUCCESS)
    assert mail.received_at == datetime(2024, 3, 5, 3, 1, 12, tzinfo=UTC)
    assert len(mail.objects) == 1


def test_same_mail_twice_is_stored_once(app):
    first = ingest_message(fixture_mail(SUCCESS))
    second = ingest_message(fixture_mail(SUCCESS))
    assert first.created and not second.created
    assert second.mail.id == first.mail.id
    assert _count(MailMessage) == 1


def test_unrecognised_and_unreadable_mails_are_kept_with_the_reason(app):
    unknown = ingest_message(fixture_mail(UNKNOWN)).mail
    assert unknown.location == "inbox" and unknown.parser_key is None and unknown.parse_error == NO_PARSER_ERROR
    garbage = ingest_message(b"\x00\x01 this is not a mail at all")
    assert garbage.created and garbage.mail.parse_error.startswith("Not a readable mail")
    assert garbage.mail.internet_message_id.startswith("<sha256-")
    # The stand-in id still recognises the same bytes delivered again.
    assert not ingest_message(b"\x00\x01 this is not a mail at all").created


def test_known_job_becomes_a_run_with_objects(app):
    customer = make_customer("Pbx Owner")
    first = ingest_message(fixture_mail(SUCCESS)).mail
    approve_inbox_mail(make_user("operator"), first, customer)
    result = ingest_message(fixture_mail(FAILED))
    run = result.run
    assert run is not None and run.status == "failed"
    assert result.mail.location == "processed" and result.mail.job_id == run.job_id
    assert run.run_at == (result.mail.run_at or result.mail.received_at)
    link = db.session.scalar(select(RunObjectLink).where(RunObjectLink.job_run_id == run.id))
    assert link.status == "failed" and link.error_message
    job_link = db.session.scalar(select(JobObjectLink).where(JobObjectLink.job_id == run.job_id))
    assert job_link.last_status == "failed"


def test_approve_turns_every_waiting_mail_of_the_identity_into_runs(app):
    raw = fixture_mail(SUCCESS)
    mails = [ingest_message(variant(raw, f"<night{i}@pbx.example.com>",
                                    datetime(2024, 3, 1 + i, 3, 0, tzinfo=UTC))).mail for i in range(4)]
    other = ingest_message(fixture_mail(HYPER_BACKUP)).mail
    customer = make_customer("Approver Ltd")
    result = approve_inbox_mail(make_user("operator"), mails[2], customer)
    assert result.job_created and result.runs_created == 4
    assert result.job.customer_id == customer.id and result.job.job_name == "pbx.example.com"
    assert all(m.location == "processed" for m in mails)
    assert other.location == "inbox"
    runs = db.session.scalars(select(JobRun).where(JobRun.job_id == result.job.id).order_by(JobRun.run_at)).all()
    assert [r.run_at.day for r in runs] == [1, 2, 3, 4]
    with pytest.raises(InboxError, match="no longer in the Inbox"):
        approve_inbox_mail(make_user("operator"), mails[0], customer)


def test_unparsed_mail_cannot_be_approved(app):
    mail = ingest_message(fixture_mail(UNKNOWN)).mail
    with pytest.raises(InboxError, match="Only a parsed mail"):
        approve_inbox_mail(make_user("operator"), mail, make_customer())


def test_bulk_approve_creates_one_job_per_identity(app):
    a = ingest_message(fixture_mail(SUCCESS)).mail
    b = ingest_message(fixture_mail(FAILED)).mail  # same job as a
    c = ingest_message(fixture_mail(HYPER_BACKUP)).mail
    results = approve_inbox_mails(make_user("operator"), [a, b, c], make_customer("Bulk BV"))
    assert len(results) == 2 and sum(r.runs_created for r in results) == 3


def test_mail_for_an_archived_job_is_not_shown_in_the_inbox(app):
    first = ingest_message(fixture_mail(SUCCESS)).mail
    job = approve_inbox_mail(make_user("operator"), first, make_customer()).job
    job.archived_at = datetime.now(UTC)
    mail = ingest_message(fixture_mail(FAILED)).mail
    assert mail.location == "processed" and mail.job_id == job.id


def test_suggestion_prefers_sender_then_domain_then_job_name(app):
    mail = ingest_message(fixture_mail(HYPER_BACKUP)).mail
    assert suggest_customer(mail) is None
    named = make_customer("Name Match")
    make_job(named, job_name="C2 offsite", from_address="other@elsewhere.example")
    assert suggest_customer(mail).customer == named
    by_domain = make_customer("Domain Match")
    make_job(by_domain, job_name="x", from_address="nas02@example.com")
    suggestion = suggest_customer(mail)
    assert suggestion.customer == by_domain and "@example.com" in suggestion.reason
    by_sender = make_customer("Sender Match")
    make_job(by_sender, job_name="y", from_address="NAS01@example.com")
    assert suggest_customer(mail).customer == by_sender


def test_delete_restore_and_purge(app):
    actor = make_user("admin")
    mail = ingest_message(fixture_mail(UNKNOWN)).mail
    assert delete_mails(actor, [mail]) == 1
    assert mail.location == "deleted" and mail.deleted_by_id == actor.id and mail.deleted_at
    assert restore_mails(actor, [mail]) == 1 and mail.location == "inbox" and mail.deleted_at is None
    with pytest.raises(InboxError, match="Only deleted mails"):
        purge_mails(actor, [mail])
    delete_mails(actor, [mail])
    assert purge_mails(actor, [mail]) == 1
    assert _count(MailMessage) == 0


def test_reparse_turns_a_now_known_mail_into_a_run(app):
    mail = ingest_message(fixture_mail(FAILED)).mail
    # The job appears later (another mail of it approved); re-parsing the waiting one finds it.
    job = make_job(make_customer(), job_name="pbx.example.com", backup_software="3CX", backup_type=mail.backup_type,
                   from_address=mail.from_address)
    assert job.identity_key == mail.identity_key
    mail.parser_key = None
    mail.identity_key = None
    assert reparse_mail(mail)
    assert mail.location == "processed" and mail.parser_key == "3cx_backup"


# ---- how a mail is written --------------------------------------------------------------------------

BORG_FAILED = "borg/failed_app_and_system_data.eml"  # three objects that did not succeed, one that did


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (first word of each, upper case)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _known_pbx_job():
    first = ingest_message(fixture_mail(SUCCESS)).mail
    job = approve_inbox_mail(make_user("operator"), first, make_customer("Pbx Owner")).job
    # The pass's first mail of the job reads it (and what every run needs once); the next ones do not.
    ingest_message(variant(fixture_mail(FAILED), "<warm-up@pbx.example.com>"))
    return job


def test_a_mail_of_a_known_job_is_written_without_reading_anything(app):
    job = _known_pbx_job()
    with _statements() as seen:
        result = ingest_message(variant(fixture_mail(FAILED), "<counted@pbx.example.com>"))
    assert result.created and result.run is not None and result.run.job_id == job.id
    # The mail, its object, the run, the customer's objects, the run's results, the job's links: no
    # duplicate check before the INSERT, no savepoint, no job lookup.
    assert seen == ["INSERT"] * 6
    assert result.mail.objects[0].name == "pbx.example.com" and result.run.job is job
    assert _count(RunObjectLink) == 3


def test_a_duplicate_of_a_known_job_mail_is_found_and_gets_no_second_run(app):
    _known_pbx_job()
    first = ingest_message(variant(fixture_mail(FAILED), "<twice@pbx.example.com>"))
    runs = _count(JobRun)
    second = ingest_message(variant(fixture_mail(FAILED), "<twice@pbx.example.com>"))
    assert not second.created and second.run is None and second.mail is first.mail
    assert _count(JobRun) == runs and _count(MailMessage) == 3


def _change_behind_the_session(job, **values) -> None:
    """Change the job's row as another session would: the job object remembered here stays as it was."""
    db.session.execute(update(Job.__table__).where(Job.__table__.c.id == job.id).values(**values))


def test_a_remembered_job_deleted_meanwhile_gets_no_run(app):
    job = _known_pbx_job()
    runs = _count(JobRun)
    _change_behind_the_session(job, deleted_at=datetime.now(UTC))
    result = ingest_message(variant(fixture_mail(FAILED), "<after-delete@pbx.example.com>"))
    assert result.created and result.run is None
    db.session.expire_all()
    assert result.mail.location == "inbox" and result.mail.job_id is None
    assert _count(JobRun) == runs


def test_a_remembered_job_renamed_meanwhile_gets_no_run(app):
    job = _known_pbx_job()
    _change_behind_the_session(job, job_name="renamed", identity_key="another identity")
    result = ingest_message(variant(fixture_mail(FAILED), "<after-rename@pbx.example.com>"))
    assert result.run is None
    db.session.expire_all()
    assert result.mail.location == "inbox" and result.mail.job_id is None


def test_a_remembered_job_replaced_meanwhile_gets_the_run_on_its_successor(app):
    job = _known_pbx_job()
    _change_behind_the_session(job, deleted_at=datetime.now(UTC))
    successor = make_job(make_customer("New Owner"), job_name=job.job_name, backup_software=job.backup_software,
                         backup_type=job.backup_type, from_address=job.from_address)
    result = ingest_message(variant(fixture_mail(FAILED), "<after-replace@pbx.example.com>"))
    assert result.run is not None and result.run.job_id == successor.id
    db.session.expire_all()
    assert result.mail.location == "processed" and result.mail.job_id == successor.id


def test_a_remembered_job_moved_to_another_customer_records_objects_there(app):
    job = _known_pbx_job()
    other = make_customer("Other Owner")
    _change_behind_the_session(job, customer_id=other.id)
    result = ingest_message(variant(fixture_mail(FAILED), "<after-move@pbx.example.com>"))
    assert result.run is not None and result.run.job_id == job.id
    link = db.session.scalar(select(RunObjectLink).where(RunObjectLink.job_run_id == result.run.id))
    assert db.session.get(CustomerObject, link.customer_object_id).customer_id == other.id


def test_an_older_mail_does_not_undo_what_a_newer_one_recorded(app):
    _known_pbx_job()
    night = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    newer = ingest_message(variant(fixture_mail(FAILED), "<newer@pbx.example.com>", night), received_at=night).run
    older = ingest_message(variant(fixture_mail(SUCCESS), "<older@pbx.example.com>", night - timedelta(days=1)),
                           received_at=night - timedelta(days=1)).run
    assert newer.run_at > older.run_at
    db.session.expire_all()
    [job_link] = db.session.scalars(select(JobObjectLink)).all()
    assert (job_link.last_seen_at, job_link.last_status) == (newer.run_at, "failed")
    [customer_object] = db.session.scalars(select(CustomerObject)).all()
    assert customer_object.last_seen_at == newer.run_at
    statuses = dict(db.session.execute(select(RunObjectLink.job_run_id, RunObjectLink.status)).all())
    assert (statuses[newer.id], statuses[older.id]) == ("failed", "success")
    latest = ingest_message(variant(fixture_mail(SUCCESS), "<latest@pbx.example.com>", night + timedelta(days=1)),
                            received_at=night + timedelta(days=1)).run
    db.session.expire_all()
    assert (job_link.last_seen_at, job_link.last_status) == (latest.run_at, "success")
    assert customer_object.last_seen_at == latest.run_at and customer_object.first_seen_at < older.run_at


def test_overrides_of_a_new_run_read_its_problems_in_one_query(app):
    first = ingest_message(fixture_mail(BORG_FAILED)).mail
    job = approve_inbox_mail(make_user("operator"), first, make_customer("Borg Owner")).job
    override, _changed = create_override(make_user("operator"), OverrideInput(
        level="object", job_id=job.id, object_name=None, backup_software=None, backup_type=None, status_match=None,
        error_text=None, error_match="contains", valid_from=None, valid_until=None, active=True, comment=None))
    ingest_message(variant(fixture_mail(BORG_FAILED), "<warm-up@borg.example>"))
    db.session.flush()
    with _statements() as seen:
        run = ingest_message(variant(fixture_mail(BORG_FAILED), "<counted@borg.example>")).run
        db.session.flush()
    assert (run.status, run.effective_status, run.override_id) == ("failed", "success", override.id)
    # Three failing objects: one query for all of them, not one per link and object.
    assert seen.count("SELECT") == 1 and seen.count("UPDATE") == 1


def test_the_message_id_comes_from_the_header_block_only(app):
    inner = b"From: a@example.com\r\nSubject: inner\r\nMessage-ID: <inner@example.com>\r\n\r\nbody\r\n"
    raw = (b"From: nas@example.com\r\nSubject: Forwarded report\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
           b"See the attached mail.\r\nMessage-ID: <body-line@example.com>\r\n--b\r\n"
           b"Content-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n")
    assert message_id_for(raw).startswith("<sha256-")
    for lines in (raw, raw.replace(b"\r\n", b"\n")):
        with_id = lines.replace(b"Subject: Forwarded", b"Message-ID: <outer@example.com>\nSubject: Forwarded", 1)
        assert message_id_for(with_id) == "<outer@example.com>"
    # Folded onto a second line, as long ids often are.
    assert message_id_for(b"From: a@b\r\nMessage-ID:\r\n <folded@example.com>\r\n\r\nbody") == "<folded@example.com>"
