"""From a raw mail to a stored MailMessage and, for a known job, a JobRun.

Order matters and is the guarantee that nothing is lost: the mail is stored (deduplicated by
Internet Message-ID) and turned into a run in the same transaction, before the source lets go of it.
The caller commits (the import pass: a few mails per transaction) and only then removes the mails
from the source, so a crash leaves either nothing (the source still has the mail and delivers it
again) or everything (the next delivery is recognised as a duplicate). A mail becomes at most one
run: job_runs has a unique mail_message_id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlalchemy import Table, delete, inspect, literal_column, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..models import Job, JobRun, MailMessage, MailObject, job_identity_key
from ..models.types import UTCDateTime, utcnow
from ..parsers.base import Attachment, NormalizedMail, ParsedObject
from ..parsers.normalize import decode_header_value, normalize_eml
from ..parsers.registry import ParseOutcome, parse_mail
from .context_cache import cached
from .missed_runs import replace_missed_run
from .objects import conflict_statement, record_run_objects
from .runs import finish_new_run

NO_PARSER_ERROR = "No parser recognises this mail."
MAX_MESSAGE_ID_LENGTH = 998


@dataclass(frozen=True)
class IngestResult:
    mail: MailMessage
    created: bool  # False: the mail was stored before (same Internet Message-ID)
    run: JobRun | None


def _header_block(raw: bytes) -> bytes:
    """``raw`` up to and including the empty line that ends its header block (all of it without one):
    everything the header parser reads, without decoding the bodies and attachments after it."""
    ends = [found + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (found := raw.find(blank)) >= 0]
    return raw[:min(ends)] if ends else raw


def _header_message_id(raw: bytes) -> str | None:
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(_header_block(raw), headersonly=True)
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
    """Store, parse and process one mail. Flushes; the caller commits.

    A new mail of a known job costs a handful of statements: the mail (INSERT ... ON CONFLICT DO
    NOTHING decides whether it is new), its objects, the run, and the run's objects.
    """
    now_at = now_at or utcnow()
    message_id = message_id_for(raw, fallback_message_id)
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
        informational=False,
        created_at=utcnow(),
    )
    # Everything is decided before the first write, so a new mail is written once.
    job = None
    if normalized is None:
        mail.parse_error = f"Not a readable mail: {unreadable}"
        mail.parsed_at = now_at
    else:
        _set_parse_outcome(mail, parse_mail(normalized), now_at)
        job = live_job_for(mail.identity_key) if mail.parsed and mail.identity_key else None
        if job is not None:
            mail.location = "processed"
            mail.job_id = job.id
    # The unique Message-ID decides whether the mail is new, also against a concurrent importer
    # that stores the same mail at the same moment (its INSERT waits for ours, or ours for its).
    if not _insert_new_mail(mail):
        existing = find_mail_by_message_id(message_id)
        if existing is None:
            raise LookupError(f"{message_id} conflicts with a stored mail that cannot be found")
        return IngestResult(existing, created=False, run=None)
    run = _add_run_of_new_mail(job, mail) if job is not None else None
    return IngestResult(mail, created=True, run=run)


def _add_run_of_new_mail(job: Job, mail: MailMessage) -> JobRun | None:
    objects = _parsed_objects(mail)
    run = _add_run(job, mail, objects)
    if run is not None:
        return run
    # The job was deleted or renamed since this pass found it: look again, without the cache.
    forget_live_job(mail.identity_key)
    job = live_job_for(mail.identity_key)
    run = _add_run(job, mail, objects) if job is not None else None
    mail.location, mail.job_id = ("processed", job.id) if run is not None else ("inbox", None)
    db.session.flush()
    return run


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


_LIVE_JOBS = "live_jobs_by_identity"


def live_job_for(identity_key: str) -> Job | None:
    """:func:`find_live_job`, remembered for the app context (a background pass, a request).

    Only found jobs are remembered: a job approved during a pass is seen by the next mail. A
    remembered job is checked again when its run is written (see :func:`_add_run`), so a job
    deleted, renamed or edited meanwhile is noticed; one that went stale in this session (expired by
    a commit or rollback, or from another session) is looked up again.
    """
    jobs: dict[str, Job] = cached(_LIVE_JOBS, dict)
    job = jobs.get(identity_key)
    if job is not None:
        state = inspect(job)
        if state.session is db.session() and not state.expired_attributes and not state.deleted:
            return job
    job = find_live_job(identity_key)
    if job is None:
        jobs.pop(identity_key, None)
    else:
        jobs[identity_key] = job
    return job


def forget_live_job(identity_key: str) -> None:
    cached(_LIVE_JOBS, dict).pop(identity_key, None)


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
    run = _add_run(job, mail, _parsed_objects(mail))
    if run is None:
        # The caller has just read the job in this transaction; only a concurrent delete gets here.
        raise LookupError(f"job {job.id} was deleted while its mails were being processed")
    return run


def _parsed_objects(mail: MailMessage) -> list[ParsedObject]:
    return [ParsedObject(name=o.name, type=o.object_type or "", status=o.status or "success", error=o.error_message)
            for o in mail.objects]


# ---- writing without the unit of work ------------------------------------------------------------
#
# The import writes a mail, its objects and its run once each and never changes them in the same
# transaction, so they are inserted with plain INSERT statements and then handed to the session as
# if just loaded (make_transient_to_detached + add): no flush bookkeeping per object, and every
# later read of them in this session costs no query.

_MAILS: Table = MailMessage.__table__
_MAIL_OBJECTS: Table = MailObject.__table__
_RUNS: Table = JobRun.__table__
_JOBS: Table = Job.__table__


def _insert_values(obj: object) -> dict[str, object]:
    """The INSERT parameters of a new object: what was set on it, plus NULL for the unset columns
    that have no default (those are set to None on the object too, so nothing of it is left to load).
    Unset columns with a default are left to the INSERT and load on first access."""
    state = inspect(obj)
    values: dict[str, object] = {}
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if column.primary_key:
            continue
        if attr.key in state.dict:
            values[column.key] = state.dict[attr.key]
        elif column.default is None and column.server_default is None:
            setattr(obj, attr.key, None)
            values[column.key] = None
    return values


def _attach_as_loaded(obj: object, primary_key: int) -> None:
    obj.id = primary_key  # type: ignore[attr-defined]
    make_transient_to_detached(obj)


def _insert_mail_unless_stored(insert: Callable[[Table], Any]) -> Any:
    return (insert(_MAILS).on_conflict_do_nothing(index_elements=[_MAILS.c.internet_message_id])
            .returning(_MAILS.c.id))


_INSERT_MAIL_OBJECTS = _MAIL_OBJECTS.insert().returning(_MAIL_OBJECTS.c.id, sort_by_parameter_order=True)


def _insert_new_mail(mail: MailMessage) -> bool:
    """INSERT the mail unless its Message-ID is stored already; False then. The mail and its
    objects join the session as persistent, loaded objects."""
    objects = list(mail.objects)  # also loads the (possibly empty) collection, so it never lazy-loads
    mail_id = db.session.execute(conflict_statement(_insert_mail_unless_stored), _insert_values(mail)).scalar()
    if mail_id is None:
        return False
    if objects:
        for item in objects:
            item.mail_message_id = mail_id
        rows = [_insert_values(item) for item in objects]
        ids = db.session.execute(_INSERT_MAIL_OBJECTS, rows).scalars().all()
        for item, object_id in zip(objects, ids, strict=True):
            _attach_as_loaded(item, object_id)
    _attach_as_loaded(mail, mail_id)
    db.session.add(mail)  # cascades to its objects
    return True


# RETURNING reads the job back in the same statement, as it is when the run is written: its
# updated_at while it is live, NULL once (soft) deleted. Written as SQL text because SQLAlchemy does
# not correlate a subquery in RETURNING to the inserted row.
_LIVE_JOB_UPDATED_AT = literal_column(
    "(SELECT jobs.updated_at FROM jobs WHERE jobs.id = job_runs.job_id AND jobs.deleted_at IS NULL)", UTCDateTime())
assert (_JOBS.name, _RUNS.name) == ("jobs", "job_runs")  # the names the SQL text above uses
_INSERT_RUN = _RUNS.insert().returning(_RUNS.c.id, _LIVE_JOB_UPDATED_AT)


def _add_run(job: Job, mail: MailMessage, objects: list[ParsedObject]) -> JobRun | None:
    """Write the run of a stored mail with its objects, then what every new run gets.

    None, and nothing written, when ``job`` turns out to be deleted, or renamed to another
    identity, since it was read (a remembered job of a long pass).
    """
    run_at = mail.run_at or mail.received_at
    run = JobRun(job_id=job.id, run_at=run_at, status=mail.overall_status, informational=mail.informational,
                 mail_message_id=mail.id, message=mail.parse_message, created_at=utcnow())
    run_id, job_updated_at = db.session.execute(_INSERT_RUN, _insert_values(run)).one()
    if job_updated_at is None or job_updated_at != job.updated_at:
        # Changed since it was read: read it again (refreshing the object) and decide.
        current = db.session.scalar(select(Job).where(Job.id == job.id, Job.deleted_at.is_(None))
                                    .execution_options(populate_existing=True))
        if current is None or current.identity_key != mail.identity_key:
            db.session.execute(delete(_RUNS).where(_RUNS.c.id == run_id))
            return None
    _attach_as_loaded(run, run_id)
    db.session.add(run)
    set_committed_value(run, "job", job)
    record_run_objects(job, run, objects, observed_at=run_at)
    replace_missed_run(job, run)
    finish_new_run(job, run)
    return run
