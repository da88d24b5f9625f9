"""Factories for test data: small functions with sensible defaults, flushed, never committed."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime

from werkzeug.security import generate_password_hash

from backend.app.extensions import db
from backend.app.models import Customer, Job, JobRun, User

DEFAULT_PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def make_user(*roles: str, username: str | None = None, password: str = DEFAULT_PASSWORD,
              active: bool = True) -> User:
    roles = roles or ("viewer",)
    user = User(username=username or f"user{next(_counter)}", roles_csv="viewer", active_role="viewer", active=active)
    user.roles = list(roles)
    user.active_role = roles[0]
    # A cheap hash: the production one (scrypt) would make every login in the suite take 100 ms.
    user.password_hash = _cheap_hash(password)
    db.session.add(user)
    db.session.flush()
    return user


@functools.cache
def _cheap_hash(password: str) -> str:
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def make_customer(name: str | None = None, active: bool = True) -> Customer:
    customer = Customer(name=name or f"Customer {next(_counter)}", active=active)
    db.session.add(customer)
    db.session.flush()
    return customer


def make_job(customer: Customer | None = None, *, job_name: str | None = None, backup_software: str = "Veeam",
             backup_type: str = "Backup Job", from_address: str = "veeam@example.com", **fields) -> Job:
    job = Job(customer_id=(customer or make_customer()).id, job_name=job_name or f"Job {next(_counter)}",
              backup_software=backup_software, backup_type=backup_type, from_address=from_address, **fields)
    job.refresh_identity_key()
    db.session.add(job)
    db.session.flush()
    return job


def make_run(job: Job | None = None, *, status: str = "success", run_at: datetime | None = None, **fields) -> JobRun:
    run = JobRun(job_id=(job or make_job()).id, status=status, run_at=run_at or datetime.now(UTC), **fields)
    db.session.add(run)
    db.session.flush()
    return run
