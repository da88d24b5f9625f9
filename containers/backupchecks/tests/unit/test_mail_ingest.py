from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend.app.extensions import db
from backend.app.models import JobObjectLink, JobRun, MailMessage, RunObjectLink
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
from backend.app.services.mail_ingest import NO_PARSER_ERROR, ingest_message

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
