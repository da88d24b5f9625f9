"""Demo data: a small, believable installation, built through the same ingest as real mail.

Every demo mail is a copy of a fixture mail (tests/fixtures/mails) with its own Message-ID and Date,
one per night, so the demo shows approved jobs with weeks of runs, failures and warnings, and an
Inbox with unknown jobs and unrecognised mails waiting. The copies keep the fixture's body, and a
body states the night it was written for; the demo therefore dates each run by its copy's Date.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.utils import format_datetime, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Customer, CustomerObject, Job, JobObjectLink, JobRun, MailMessage, RunObjectLink, User
from .inbox import approve_inbox_mail
from .job_schedules import learn_job_schedule
from .mail_ingest import ingest_message
from .missed_runs import ensure_missed_runs
from .tickets import ScopeInput, create_remark, create_ticket
from .users import create_user, generate_password

FIXTURES_DIR = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "mails"
DEMO_CUSTOMERS = ("Acme Dental", "Bakker Logistics", "Northwind Legal", "Riverside School", "Zenith Architects")


@dataclass(frozen=True)
class DemoJob:
    customer: int  # index into DEMO_CUSTOMERS
    parser: str
    job_name: str
    local_time: time
    weekdays: tuple[int, ...] = tuple(range(7))


# Approved jobs: weeks of nightly runs. (parser key, job name) select the fixture mails of one job.
APPROVED = (
    DemoJob(0, "veeam_vbr", "Backup Job SRV01", time(22, 0)),
    DemoJob(0, "veeam_vb365", "Daily M365 Backup", time(23, 30)),
    DemoJob(0, "3cx_backup", "pbx.example.com", time(3, 0)),
    DemoJob(1, "synology_hyper_backup", "Daily to C2", time(1, 0)),
    DemoJob(1, "nakivo_job", "Daily VM Backup", time(20, 0), (0, 1, 2, 3, 4)),
    DemoJob(2, "veeam_vbr", "Backup Job SQL", time(21, 0), (0, 1, 2, 3, 4)),
    DemoJob(2, "acronis_cyber_protect", "Nightly servers", time(2, 0)),
    DemoJob(3, "qnap_hybrid_backup_sync", "Daily to USB", time(19, 0), (0, 1, 2, 3, 4)),
    DemoJob(3, "xen_orchestra", "Nightly", time(0, 30)),
    DemoJob(4, "syncovery", "Nightly NAS", time(23, 0)),
    DemoJob(4, "duplicati", "Testing", time(4, 0)),
)
# Waiting in the Inbox: jobs nobody approved yet, a few nights each.
WAITING = (
    ("veeam_vbr", "Replica SRV02"),
    ("synology_hyper_backup", "Wekelijks naar USB"),
    ("xen_orchestra", "CR to DR"),
    ("proxmox_ve_vzdump", "pve01.example.com (pbs01)"),
    ("urbackup", "PC-01"),
)


def _fixture_index() -> dict[tuple[str | None, str | None], list[tuple[Path, str | None, str | None]]]:
    """(parser, job name) -> [(eml path, overall status, backup type)] from the golden files beside the fixtures."""
    if not FIXTURES_DIR.is_dir():
        raise FileNotFoundError(f"demo mails not found in {FIXTURES_DIR}; run the demo from a source checkout")
    index: dict[tuple[str | None, str | None], list[tuple[Path, str | None, str | None]]] = {}
    for golden in sorted(FIXTURES_DIR.glob("*/*.json")):
        eml = golden.with_suffix(".eml")
        if not eml.exists():
            continue
        expected = json.loads(golden.read_text(encoding="utf-8"))
        key = (expected.get("parser"), expected.get("job_name"))
        index.setdefault(key, []).append((eml, expected.get("overall_status"), expected.get("backup_type")))
    return index


def _sender(path: Path) -> str:
    headers = BytesHeaderParser().parsebytes(path.read_bytes(), headersonly=True)
    return parseaddr(str(headers.get("From", "")))[1].lower()


_HEADER = re.compile(rb"(?im)^(Message-ID|Date):[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n")


def _copy(raw: bytes, message_id: str, date_at: datetime) -> bytes:
    """The mail with its own Message-ID and Date (added when the fixture lacks them)."""
    header_end = raw.find(b"\n\n") if b"\r\n\r\n" not in raw else raw.find(b"\r\n\r\n")
    head, body = (raw[:header_end], raw[header_end:]) if header_end >= 0 else (raw, b"")
    head = _HEADER.sub(b"", head + b"\n").rstrip(b"\r\n")
    newline = b"\r\n" if b"\r\n" in raw else b"\n"
    fresh = f"Message-ID: {message_id}".encode() + newline + f"Date: {format_datetime(date_at)}".encode() + newline
    return fresh + head + body


def create_demo_users() -> dict[str, str]:
    """One user per role with a random password; returns {username: password} to print once."""
    credentials = {}
    for role in ("admin", "operator", "viewer", "reporter"):
        password = generate_password()
        roles = ["admin", "operator", "viewer", "reporter"] if role == "admin" else [role]
        create_user(None, role, password, roles, email=f"{role}@example.com")
        credentials[role] = password
    return credentials


def _nights(job: DemoJob, today: datetime, zone: ZoneInfo, days: int, now_at: datetime, rng: random.Random):
    for offset in range(days, -1, -1):
        day = today.date() - timedelta(days=offset)
        if day.weekday() not in job.weekdays:
            continue
        at = datetime.combine(day, job.local_time, tzinfo=zone) + timedelta(minutes=rng.randint(0, 20))
        # Now and then a night without a mail, so the demo has missed runs to show.
        if at <= now_at and rng.random() > 0.04:
            yield at


def seed_demo_data(now_at: datetime, zone: ZoneInfo, actor: User, days: int = 28, seed: int = 7) -> None:
    rng = random.Random(seed)
    index = _fixture_index()
    customers = [Customer(name=name) for name in DEMO_CUSTOMERS]
    db.session.add_all(customers)
    db.session.flush()
    today = now_at.astimezone(zone)
    serial = 0
    for job in APPROVED:
        files = index.get((job.parser, job.job_name))
        if not files:
            raise LookupError(f"no fixture mail for demo job {job.parser} / {job.job_name}")
        first = next((f for f in files if f[1] == "success"), files[0])
        # Only copies with the same sender and backup type are the same job (a forwarded copy, or a
        # List report of the same Duplicati job, is another identity).
        same_job = [f for f in files if _sender(f[0]) == _sender(first[0]) and f[2] == first[2]]
        good = [path for path, status, _type in same_job if status == "success"] or [first[0]]
        bad = [path for path, status, _type in same_job if status != "success"]
        approved = False
        for night_at in _nights(job, today, zone, days, now_at, rng):
            serial += 1
            path = rng.choice(bad) if bad and rng.random() < 0.18 else rng.choice(good)
            mail = ingest_message(_copy(path.read_bytes(), f"<demo-{serial}@backupchecks.example>", night_at),
                                  received_at=night_at, now_at=now_at).mail
            if not approved:
                approve_inbox_mail(actor, mail, customers[job.customer])
                approved = True
    for parser, job_name in WAITING:
        path = index[(parser, job_name)][0][0]
        for offset in (3, 2, 1):
            serial += 1
            night_at = now_at - timedelta(days=offset, hours=rng.randint(1, 5))
            ingest_message(_copy(path.read_bytes(), f"<demo-{serial}@backupchecks.example>", night_at),
                           received_at=night_at, now_at=now_at)
    for (parser, _job_name), files in index.items():
        if parser is None:  # mails no parser knows: they wait in the Inbox with the reason
            for path, _status, _type in files[:4]:
                serial += 1
                ingest_message(_copy(path.read_bytes(), f"<demo-{serial}@backupchecks.example>",
                                     now_at - timedelta(hours=serial % 30)), now_at=now_at)
    # The copies' bodies still state the fixture's original night; date each run by its copy.
    runs = db.session.execute(select(JobRun, MailMessage.received_at)
                              .join(MailMessage, JobRun.mail_message_id == MailMessage.id)).all()
    for run, received_at in runs:
        run.run_at = received_at
    db.session.flush()
    # The objects were seen by those runs, so their last-seen times follow the new dates too.
    last_run_at = (select(func.max(JobRun.run_at)).join(RunObjectLink, RunObjectLink.job_run_id == JobRun.id)
                   .where(JobRun.job_id == JobObjectLink.job_id,
                          RunObjectLink.customer_object_id == JobObjectLink.customer_object_id)
                   .scalar_subquery())
    db.session.execute(update(JobObjectLink).values(last_seen_at=func.coalesce(last_run_at, JobObjectLink.last_seen_at))
                       .execution_options(synchronize_session=False))
    db.session.execute(update(CustomerObject).values(last_seen_at=func.coalesce(
        select(func.max(JobObjectLink.last_seen_at)).where(JobObjectLink.customer_object_id == CustomerObject.id)
        .scalar_subquery(), CustomerObject.last_seen_at))
                       .execution_options(synchronize_session=False))
    # As if the installation had been watching these jobs for two weeks: learn their schedules and
    # report the nights that were skipped since.
    for job in db.session.scalars(select(Job).where(Job.deleted_at.is_(None))):
        learn_job_schedule(job, now_at, zone)
        if job.schedule_expected_since_at is not None:
            job.schedule_expected_since_at = now_at - timedelta(days=14)
    ensure_missed_runs(now_at)
    _seed_tickets_and_remarks(actor, customers, now_at, zone)


def _seed_tickets_and_remarks(actor: User, customers: list[Customer], now_at: datetime, zone: ZoneInfo) -> None:
    """A ticket on the failing runs of one job and a remark for one customer, as an operator leaves them."""
    failing = db.session.execute(
        select(Job, JobRun).join(JobRun, JobRun.job_id == Job.id)
        .where(JobRun.effective_status == "failed", JobRun.reviewed_at.is_(None), JobRun.mail_message_id.is_not(None))
        .order_by(JobRun.run_at.desc())).first()
    if failing is not None:
        job, run = failing
        create_ticket(actor, code=None, description=f"{job.job_name} fails: being looked into",
                      scope=ScopeInput("job", job_id=job.id), start_date=run.run_at.astimezone(zone).date(),
                      active_from_date=run.run_at.astimezone(zone).date(), runs=[run])
    school = customers[DEMO_CUSTOMERS.index("Riverside School")]
    create_remark(actor, body="The backup disk is swapped on Fridays; a warning on Friday night is expected.",
                  scope=ScopeInput("customer", customer_id=school.id),
                  active_from_date=(now_at - timedelta(days=7)).astimezone(zone).date())
