"""Demo data: a small, believable installation to click through."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..extensions import db
from ..models import Customer, Job, JobRun
from .users import create_user, generate_password

DEMO_CUSTOMERS = ("Acme Dental", "Bakker Logistics", "Northwind Legal", "Riverside School", "Zenith Architects")
# (customer index, sender, software, type, job name, local hour, minute, weekdays or None for daily)
DEMO_JOBS = (
    (0, "veeam@acme-dental.example", "Veeam", "Backup Job", "Daily VM backup", 22, 0, None),
    (0, "veeam@acme-dental.example", "Veeam", "Backup Copy Job", "Offsite copy", 23, 30, None),
    (1, "nas01@bakker.example", "Synology", "Hyper Backup", "NAS to cloud", 1, 0, None),
    (1, "nas01@bakker.example", "Synology", "Active Backup", "Workstations", 12, 30, (0, 1, 2, 3, 4)),
    (2, "backup@northwind.example", "NAKIVO", "Backup Job", "File servers", 20, 0, (0, 1, 2, 3, 4)),
    (2, "pbx@northwind.example", "3CX", "Backup", "PBX backup", 3, 0, None),
    (3, "pve@riverside.example", "Proxmox", "vzdump", "All guests", 2, 0, None),
    (3, "qnap@riverside.example", "QNAP", "Hybrid Backup Sync", "Student shares", 21, 0, (5,)),
    (4, "veeam@zenith.example", "Veeam", "Agent Backup", "Laptops policy", 13, 0, (0, 1, 2, 3, 4)),
)


def create_demo_users() -> dict[str, str]:
    """One user per role with a random password; returns {username: password} to print once."""
    credentials = {}
    for role in ("admin", "operator", "viewer", "reporter"):
        password = generate_password()
        roles = ["admin", "operator", "viewer", "reporter"] if role == "admin" else [role]
        create_user(None, role, password, roles, email=f"{role}@example.com")
        credentials[role] = password
    return credentials


def seed_demo_data(now_at: datetime, zone: ZoneInfo, days: int = 30, seed: int = 7) -> None:
    rng = random.Random(seed)
    customers = [Customer(name=name) for name in DEMO_CUSTOMERS]
    db.session.add_all(customers)
    db.session.flush()
    today = now_at.astimezone(zone).date()
    for customer_index, sender, software, backup_type, name, hour, minute, weekdays in DEMO_JOBS:
        job = Job(customer_id=customers[customer_index].id, from_address=sender, backup_software=software,
                  backup_type=backup_type, job_name=name)
        job.refresh_identity_key()
        db.session.add(job)
        db.session.flush()
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            if weekdays is not None and day.weekday() not in weekdays:
                continue
            run_at = datetime.combine(day, time(hour, minute), tzinfo=zone) + timedelta(minutes=rng.randint(0, 25))
            if run_at > now_at:
                continue
            roll = rng.random()
            status = "success" if roll < 0.82 else "warning" if roll < 0.93 else "failed"
            db.session.add(JobRun(job_id=job.id, run_at=run_at, status=status,
                                  message=None if status == "success" else _demo_message(status, rng)))
    db.session.flush()


def _demo_message(status: str, rng: random.Random) -> str:
    if status == "warning":
        return rng.choice(["1 file could not be read: access denied", "Retry 1 succeeded after a network error"])
    return rng.choice(["Target storage is full", "Authentication to the repository failed", "Nothing to process"])

