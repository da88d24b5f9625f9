"""Overrides: matching runs against accepted problems, and keeping effective statuses right.

A run's problems are its non-success objects (or, without any, the run itself with its message).
The run counts as success when every problem is covered by an active override valid on the run's
date: object-level overrides of the job are tried before global ones, and the run records the
first override that covered it. "Mark as success" on a run wins over everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (
    ERROR_MATCH_TYPES,
    OVERRIDE_LEVELS,
    RUN_STATUSES,
    CustomerObject,
    Job,
    JobRun,
    Override,
    RunObjectLink,
    User,
)
from .audit import record_audit
from .context_cache import cached, forget
from .settings import ui_zone


class OverrideError(ValueError):
    """An override that cannot be saved; the message is shown to the user."""


@dataclass(frozen=True)
class Problem:
    object_name: str | None
    status: str
    error: str


def run_problems(run: JobRun) -> list[Problem]:
    if run.status == "success":
        return []
    failing = [Problem(link.customer_object.name, link.status or run.status, link.error_message or "")
               for link in run.object_links if link.status and link.status != "success"]
    return failing or [Problem(None, run.status, run.message or "")]


def _text_matches(override: Override | OverrideRule, error: str) -> bool:
    wanted = (override.error_text or "").strip()
    if not wanted:
        return True
    error = error.strip()
    if override.error_match == "exact":
        return error == wanted
    if override.error_match == "starts":
        return error.startswith(wanted)
    if override.error_match == "ends":
        return error.endswith(wanted)
    return wanted.casefold() in error.casefold()


def _same(wanted: str | None, actual: str | None) -> bool:
    return not wanted or (actual or "").casefold() == wanted.casefold()


def override_covers(override: Override | OverrideRule, job: Job, problem: Problem, run_date: date) -> bool:
    if not override.active or not override.treat_as_success:
        return False
    if override.valid_from and run_date < override.valid_from:
        return False
    if override.valid_until and run_date > override.valid_until:
        return False
    if override.level == "object":
        if override.job_id != job.id:
            return False
        if override.object_name and (problem.object_name or "").casefold() != override.object_name.casefold():
            return False
    elif not (_same(override.backup_software, job.backup_software) and _same(override.backup_type, job.backup_type)):
        return False
    if override.status_match and override.status_match != problem.status:
        return False
    return _text_matches(override, problem.error)


@dataclass(frozen=True)
class OverrideRule:
    """An active override as plain values: cached for a whole import pass, unaffected by commits."""

    id: int
    level: str
    job_id: int | None
    object_name: str | None
    backup_software: str | None
    backup_type: str | None
    status_match: str | None
    error_text: str | None
    error_match: str
    treat_as_success: bool
    valid_from: date | None
    valid_until: date | None
    active: bool


def _load_active_overrides() -> list[OverrideRule]:
    rows = db.session.scalars(select(Override).where(Override.active.is_(True)).order_by(Override.id)).all()
    rules = [OverrideRule(o.id, o.level, o.job_id, o.object_name, o.backup_software, o.backup_type, o.status_match,
                          o.error_text, o.error_match, o.treat_as_success, o.valid_from, o.valid_until, o.active)
             for o in rows]
    return [r for r in rules if r.level == "object"] + [r for r in rules if r.level == "global"]


def active_overrides() -> list[OverrideRule]:
    """Object-level before global: the more specific rule is checked (and recorded) first."""
    return cached("active_overrides", _load_active_overrides)


def _set_effective(run: JobRun, status: str, override_id: int | None) -> None:
    # Assigned only when different: an unchanged run then needs no flush.
    if run.effective_status != status:
        run.effective_status = status
    if run.override_id != override_id:
        run.override_id = override_id


def apply_overrides(run: JobRun, job: Job, overrides: Sequence[OverrideRule], zone: ZoneInfo,
                    problems: Callable[[JobRun], list[Problem]] = run_problems) -> None:
    """Set the run's effective status and the override that made it, from scratch."""
    if run.marked_success_at is not None or run.status == "success":
        _set_effective(run, "success", None)
        return
    if not overrides:
        _set_effective(run, run.status, None)
        return
    run_date = run.run_at.astimezone(zone).date()
    first: OverrideRule | None = None
    for problem in problems(run):
        cover = next((o for o in overrides if override_covers(o, job, problem, run_date)), None)
        if cover is None:
            _set_effective(run, run.status, None)
            return
        first = first or cover
    _set_effective(run, "success", first.id if first else None)


def _new_run_problems(run: JobRun) -> list[Problem]:
    """:func:`run_problems` of a just-written run in one query, instead of loading its links and
    then each link's object one by one."""
    if "object_links" in inspect(run).dict:
        return run_problems(run)
    rows = db.session.execute(
        select(RunObjectLink.status, RunObjectLink.error_message, CustomerObject.name)
        .join(CustomerObject, CustomerObject.id == RunObjectLink.customer_object_id)
        .where(RunObjectLink.job_run_id == run.id).order_by(RunObjectLink.id)).all()
    failing = [Problem(row.name, row.status or run.status, row.error_message or "")
               for row in rows if row.status and row.status != "success"]
    return failing or [Problem(None, run.status, run.message or "")]


def apply_overrides_to_new_run(run: JobRun, job: Job) -> None:
    apply_overrides(run, job, active_overrides(), ui_zone(), _new_run_problems)


def reapply_overrides(job_ids: Iterable[int] | None = None) -> int:
    """Re-evaluate every unreviewed run (of ``job_ids``, or of all jobs); returns how many changed.

    Reviewed runs keep the status they were reviewed with: history does not change under people.
    """
    forget("active_overrides")
    overrides, zone = active_overrides(), ui_zone()
    query = (select(JobRun).where(JobRun.reviewed_at.is_(None))
             .options(selectinload(JobRun.object_links).selectinload(RunObjectLink.customer_object),
                      selectinload(JobRun.job)))
    if job_ids is not None:
        query = query.where(JobRun.job_id.in_(list(job_ids)))
    changed = 0
    for run in db.session.scalars(query):
        before = (run.effective_status, run.override_id)
        apply_overrides(run, run.job, overrides, zone)
        changed += (run.effective_status, run.override_id) != before
    db.session.flush()
    return changed


@dataclass(frozen=True)
class OverrideInput:
    level: str
    job_id: int | None
    object_name: str | None
    backup_software: str | None
    backup_type: str | None
    status_match: str | None
    error_text: str | None
    error_match: str
    valid_from: date | None
    valid_until: date | None
    active: bool
    comment: str | None


def _validate(data: OverrideInput) -> None:
    if data.level not in OVERRIDE_LEVELS:
        raise OverrideError("Level must be global or object.")
    if data.level == "object" and not data.job_id:
        raise OverrideError("An object-level override needs a job.")
    if data.job_id and db.session.get(Job, data.job_id) is None:
        raise OverrideError("That job does not exist.")
    if data.error_match not in ERROR_MATCH_TYPES:
        raise OverrideError("Error match must be contains, exact, starts or ends.")
    if data.status_match and data.status_match not in RUN_STATUSES:
        raise OverrideError(f"Status must be one of {', '.join(RUN_STATUSES)}.")
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        raise OverrideError("'Until' lies before 'from'.")
    if data.level == "global" and not any((data.backup_software, data.backup_type, data.status_match,
                                            data.error_text)):
        # A global rule with no criteria would turn every failure everywhere into a success.
        raise OverrideError("A global override needs at least one criterion.")


def _apply_input(override: Override, data: OverrideInput) -> None:
    override.level = data.level
    override.job_id = data.job_id if data.level == "object" else None
    override.object_name = (data.object_name or "").strip() or None if data.level == "object" else None
    override.backup_software = (data.backup_software or "").strip() or None if data.level == "global" else None
    override.backup_type = (data.backup_type or "").strip() or None if data.level == "global" else None
    override.status_match = data.status_match or None
    override.error_text = (data.error_text or "").strip() or None
    override.error_match = data.error_match
    override.valid_from, override.valid_until = data.valid_from, data.valid_until
    override.active = data.active
    override.comment = (data.comment or "").strip() or None


def describe_override(override: Override) -> str:
    parts = [f"{override.level} override #{override.id}"]
    if override.job is not None:
        parts.append(f"job {override.job.job_name}")
    if override.object_name:
        parts.append(f"object {override.object_name}")
    for label, value in (("software", override.backup_software), ("type", override.backup_type),
                         ("status", override.status_match)):
        if value:
            parts.append(f"{label} {value}")
    if override.error_text:
        parts.append(f"error {override.error_match} “{override.error_text}”")
    return ", ".join(parts)


def _affected_jobs(override: Override) -> list[int] | None:
    return [override.job_id] if override.level == "object" and override.job_id else None


def create_override(actor: User | None, data: OverrideInput) -> tuple[Override, int]:
    _validate(data)
    override = Override(created_by_id=actor.id if actor else None)
    _apply_input(override, data)
    db.session.add(override)
    db.session.flush()
    changed = reapply_overrides(_affected_jobs(override))
    record_audit("override_created", f"Created {describe_override(override)}; {changed} unreviewed run(s) changed",
                 actor)
    return override, changed


def update_override(actor: User, override: Override, data: OverrideInput) -> int:
    _validate(data)
    before_jobs = _affected_jobs(override)
    _apply_input(override, data)
    db.session.flush()
    after_jobs = _affected_jobs(override)
    scope = None if before_jobs is None or after_jobs is None else sorted(set(before_jobs) | set(after_jobs))
    changed = reapply_overrides(scope)
    record_audit("override_updated", f"Updated {describe_override(override)}; {changed} unreviewed run(s) changed",
                 actor)
    return changed


def delete_override(actor: User, override: Override) -> int:
    scope = _affected_jobs(override)
    description = describe_override(override)
    db.session.delete(override)
    db.session.flush()
    changed = reapply_overrides(scope)
    record_audit("override_deleted", f"Deleted {description}; {changed} unreviewed run(s) changed", actor)
    return changed
