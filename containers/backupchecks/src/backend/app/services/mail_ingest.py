"""From a raw mail to a stored MailMessage and, for a known job, a JobRun.

Order matters and is the guarantee that nothing is lost: the mail is stored first (deduplicated by
Internet Message-ID), then parsed, then turned into a run. The caller commits once per mail, so a
crash leaves either nothing (the source still has the mail and delivers it again) or everything
(the next delivery is recognised as a duplicate). A mail becomes at most one run: job_runs has a
unique mail_message_id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Job, JobRun, MailMessage, MailObject, job_identity_key
from ..models.types import utcnow
from ..parsers.base import Attachment, NormalizedMail, ParsedObject
from ..parsers.normalize import decode_header_value, normalize_eml
from ..parsers.registry import ParseOutcome, parse_mail
from .missed_runs import replace_missed_run
from .objects import record_run_objects
from .runs import finish_new_run

NO_PARSER_ERROR = "No parser recognises this mail."
MAX_MESSAGE_ID_LENGTH = 998


@dataclass(frozen=True)
class IngestResult:
    mail: MailMessage
    created: bool  # False: the mail was stored before (same Internet Message-ID)
    run: JobRun | None


def _header_message_id(raw: bytes) -> str | None:
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    except Exception:  # noqa: BLE001 - a mangled header block must not stop storing the mail
        return None
    value = headers.get("Message-ID") or headers.get("Message-Id")
    value = decode_header_value(value).strip() if value else ""
    return value[:MAX_MESSAGE_ID_LENGTH] or None


def message_id_for(raw: bytes, fallback: str | None = None) -> str:
    """The Internet Message-ID, or a stable stand-in derived from the bytes when the mail has none,
    so the same mail delivered twice is still recognised."""
    found = _header_message_id(raw) or (fallback or "").strip()[:MAX_MESSAGE_ID_LENGTH]
    return found or f"<sha256-{hashlib.sha256(raw).hexdigest()}@backupchecks.invalid>"


def find_mail_by_message_id(message_id: str) -> MailMessage | None:
    return db.session.scalar(select(MailMessage).where(MailMessage.internet_message_id == message_id))


def ingest_message(raw: bytes, *, received_at: datetime | None = None, graph_message_id: str | None = None,
                   fallback_message_id: str | None = None, now_at: datetime | None = None) -> IngestResult:
    """Store, parse and process one mail. Flushes; the caller commits."""
    now_at = now_at or utcnow()
    message_id = message_id_for(raw, fallback_message_id)
    existing = find_mail_by_message_id(message_id)
    if existing is not None:
        return IngestResult(existing, created=False, run=None)

    normalized: NormalizedMail | None
    try:
        normalized = normalize_eml(raw)
        unreadable = None
    except ValueError as exc:
        normalized, unreadable = None, str(exc)

    mail = MailMessage(
        internet_message_id=message_id,
        graph_message_id=graph_message_id,
        raw_mime=raw,
        received_at=received_at or (normalized.received_at if normalized else None) or now_at,
        from_address=(normalized.from_address if normalized else None) or None,
        subject=normalized.subject if normalized else None,
        text_body=normalized.text_body if normalized else None,
        html_body=normalized.html_body if normalized else None,
        location="inbox",
    )
    # Everything is decided before the first write, so a new mail costs one INSERT (plus its
    # objects) and, for a known job, the run.
    job = None
    if normalized is None:
        mail.parse_error = f"Not a readable mail: {unreadable}"
        mail.parsed_at = now_at
    else:
        _set_parse_outcome(mail, parse_mail(normalized), now_at)
        job = find_live_job(mail.identity_key) if mail.parsed and mail.identity_key else None
        if job is not None:
            mail.location = "processed"
            mail.job_id = job.id
    # A concurrent importer may store the same mail between our check and our insert; the unique
    # Message-ID decides, and the loser treats the mail as already stored.
    try:
        with db.session.begin_nested():
            db.session.add(mail)
            db.session.flush()
    except IntegrityError:
        existing = find_mail_by_message_id(message_id)
        if existing is None:
            raise
        return IngestResult(existing, created=False, run=None)
    run = _add_run(job, mail) if job is not None else None
    return IngestResult(mail, created=True, run=run)


def normalized_from_stored(mail: MailMessage) -> NormalizedMail:
    """The parser input for a stored mail: from its raw MIME when kept, else from its fields."""
    if mail.raw_mime:
        try:
            return normalize_eml(mail.raw_mime)
        except ValueError:
            pass
    return NormalizedMail(from_address=mail.from_address or "", subject=mail.subject or "",
                          text_body=mail.text_body or "", html_body=mail.html_body or "",
                          received_at=mail.received_at)


def attachments_of(mail: MailMessage) -> tuple[Attachment, ...]:
    if not mail.raw_mime:
        return ()
    try:
        return normalize_eml(mail.raw_mime).attachments
    except ValueError:
        return ()


def apply_parse(mail: MailMessage, normalized: NormalizedMail, now_at: datetime | None = None) -> None:
    """Run the parser registry again on a stored mail and store its outcome (replacing the earlier one)."""
    mail.objects.clear()
    _set_parse_outcome(mail, parse_mail(normalized), now_at or utcnow())
    db.session.flush()


def _set_parse_outcome(mail: MailMessage, outcome: ParseOutcome, now_at: datetime) -> None:
    mail.parsed_at = now_at
    result = outcome.result
    mail.parser_key = outcome.parser.key if outcome.parser else None
    mail.parse_error = outcome.error if outcome.parser else NO_PARSER_ERROR
    mail.backup_software = result.backup_software if result else None
    mail.backup_type = result.backup_type if result else None
    mail.job_name = result.job_name if result else None
    mail.overall_status = result.overall_status if result else None
    mail.informational = result.informational if result else False
    mail.run_at = result.run_at if result else None
    mail.parse_message = result.message if result else None
    mail.identity_key = (job_identity_key(mail.from_address, result.backup_software, result.backup_type,
                                          result.job_name) if result else None)
    for parsed in (result.objects if result else ()):
        mail.objects.append(MailObject(name=parsed.name[:512], object_type=parsed.type, status=parsed.status,
                                       error_message=parsed.error))


def find_live_job(identity_key: str) -> Job | None:
    return db.session.scalar(select(Job).where(Job.identity_key == identity_key, Job.deleted_at.is_(None)))


def process_parsed_mail(mail: MailMessage) -> JobRun | None:
    """Turn a parsed inbox mail of a known job into its run; leave anything else in the Inbox."""
    if mail.location != "inbox" or not mail.parsed or mail.identity_key is None:
        return None
    job = find_live_job(mail.identity_key)
    if job is None:
        return None
    return create_run_from_mail(job, mail)


def create_run_from_mail(job: Job, mail: MailMessage) -> JobRun:
    """The run of a stored mail (created once: a mail already turned into a run returns that run)."""
    existing = db.session.scalar(select(JobRun).where(JobRun.mail_message_id == mail.id))
    if existing is not None:
        return existing
    mail.location = "processed"
    mail.job_id = job.id
    return _add_run(job, mail)


def _add_run(job: Job, mail: MailMessage) -> JobRun:
    run_at = mail.run_at or mail.received_at
    run = JobRun(job_id=job.id, run_at=run_at, status=mail.overall_status, informational=mail.informational,
                 mail_message_id=mail.id, message=mail.parse_message)
    db.session.add(run)
    db.session.flush()
    objects = [ParsedObject(name=o.name, type=o.object_type or "", status=o.status or "success",
                            error=o.error_message) for o in mail.objects]
    record_run_objects(job, run, objects, observed_at=run_at)
    replace_missed_run(job, run)
    finish_new_run(job, run)
    return run
