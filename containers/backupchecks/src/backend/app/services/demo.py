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

from sqlalchemy import select

from ..extensions import db
from ..models import Customer, JobRun, MailMessage, User
from .inbox import approve_inbox_mail
from .mail_ingest import ingest_message
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


def _fixture_index() -> dict[tuple[str | None, str | None], list[tuple[Path, str | None]]]:
    """(parser, job name) -> [(eml path, overall status)] from the golden files beside the fixtures."""
    if not FIXTURES_DIR.is_dir():
        raise FileNotFoundError(f"demo mails not found in {FIXTURES_DIR}; run the demo from a source checkout")
    index: dict[tuple[str | None, str | None], list[tuple[Path, str | None]]] = {}
    for golden in sorted(FIXTURES_DIR.glob("*/*.json")):
        eml = golden.with_suffix(".eml")
        if not eml.exists():
            continue
        expected = json.loads(golden.read_text(encoding="utf-8"))
        key = (expected.get("parser"), expected.get("job_name"))
        index.setdefault(key, []).append((eml, expected.get("overall_status")))
    return index


def _sender(path: Path) -> str:
    headers = BytesHeaderParser().parsebytes(path.read_bytes(), headersonly=True)
    return parseaddr(str(headers.get("From", "")))[1].lower()


def _copy(raw: bytes, message_id: str, date_at: datetime) -> bytes:
    raw = re.sub(rb"(?im)^Message-ID:[^\r\n]*(\r?\n[ \t][^\r\n]*)*", f"Message-ID: {message_id}".encode(), raw, count=1)
    return re.sub(rb"(?im)^Date:[^\r\n]*", f"Date: {format_datetime(date_at)}".encode(), raw, count=1)


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
        if at <= now_at:
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
        good = [path for path, status in files if status == "success"] or [files[0][0]]
        # Only copies from the same sender are the same job (a forwarded copy is another identity).
        sender = _sender(good[0])
        bad = [path for path, status in files if status != "success" and _sender(path) == sender]
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
            for path, _status in files[:4]:
                serial += 1
                ingest_message(_copy(path.read_bytes(), f"<demo-{serial}@backupchecks.example>",
                                     now_at - timedelta(hours=serial % 30)), now_at=now_at)
    # The copies' bodies still state the fixture's original night; date each run by its copy.
    runs = db.session.execute(select(JobRun, MailMessage.received_at)
                              .join(MailMessage, JobRun.mail_message_id == MailMessage.id)).all()
    for run, received_at in runs:
        run.run_at = received_at
    db.session.flush()
