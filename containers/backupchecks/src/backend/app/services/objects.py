"""Customer objects (VMs, machines, shares, datasources) and their results per job and run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import CustomerObject, Job, JobObjectLink, JobRun, RunObjectLink
from ..parsers.base import ParsedObject

_OBJECTS: Table = CustomerObject.__table__
_RUN_LINKS: Table = RunObjectLink.__table__
_JOB_LINKS: Table = JobObjectLink.__table__
_DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_BUILT: dict[tuple[Callable, str], Any] = {}


def conflict_statement(build: Callable[[Callable[[Table], Any]], Any]) -> Any:
    """The statement ``build(insert)`` makes for this database, built once and then reused.

    ``insert`` is the dialect's INSERT that can say ON CONFLICT (DO NOTHING / DO UPDATE): PostgreSQL
    and SQLite, the two databases the app runs on, share that API. Building such a statement costs
    more than executing it, hence the reuse.
    """
    dialect = db.session.get_bind().dialect.name
    statement = _BUILT.get((build, dialect))
    if statement is None:
        try:
            insert = _DIALECT_INSERTS[dialect]
        except KeyError:
            raise RuntimeError(f"ON CONFLICT is not supported on {dialect}") from None
        statement = _BUILT[(build, dialect)] = build(insert)
    return statement


def _upsert_objects(insert: Callable[[Table], Any]) -> Any:
    """New objects are created; known ones get the later of the two last-seen moments."""
    statement = insert(_OBJECTS)
    seen = statement.excluded.last_seen_at
    return statement.on_conflict_do_update(
        index_elements=[_OBJECTS.c.customer_id, _OBJECTS.c.object_type, _OBJECTS.c.name],
        set_={"last_seen_at": case((seen > _OBJECTS.c.last_seen_at, seen), else_=_OBJECTS.c.last_seen_at)},
    ).returning(_OBJECTS.c.id, _OBJECTS.c.object_type, _OBJECTS.c.name)


def _upsert_job_links(insert: Callable[[Table], Any]) -> Any:
    """New links are created; known ones take this result unless they already hold a later one."""
    statement = insert(_JOB_LINKS)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[_JOB_LINKS.c.job_id, _JOB_LINKS.c.customer_object_id],
        set_={"last_seen_at": new.last_seen_at, "last_status": new.last_status, "last_error": new.last_error},
        where=_JOB_LINKS.c.last_seen_at <= new.last_seen_at,
    )


_INSERT_RUN_LINKS = _RUN_LINKS.insert()


def record_run_objects(job: Job, run: JobRun, objects: Sequence[ParsedObject], observed_at: datetime) -> None:
    """Store each object's result for ``run`` and refresh the job's view of its objects.

    Three set-based statements whatever the number of objects (upsert the customer's objects,
    insert the run's results, upsert the job's links): this runs for every imported mail, and a job
    with many VMs would otherwise cost a statement per VM. The upserts also make two writers that
    meet the same new object both succeed instead of one failing on the unique constraint.
    """
    first: dict[tuple[str, str], ParsedObject] = {}
    for parsed in objects:
        # The same object listed twice in one mail: the first entry counts.
        first.setdefault((parsed.type or "", parsed.name[:512]), parsed)
    if not first:
        return
    # One fixed order, so that two writers lock the rows they share in the same order.
    keys = sorted(first)
    created = db.session.execute(conflict_statement(_upsert_objects), [
        {"customer_id": job.customer_id, "object_type": object_type, "name": name, "first_seen_at": observed_at,
         "last_seen_at": observed_at} for object_type, name in keys])
    ids = {(row.object_type, row.name): row.id for row in created}
    db.session.execute(_INSERT_RUN_LINKS, [
        {"job_run_id": run.id, "customer_object_id": ids[key], "status": first[key].status,
         "error_message": first[key].error, "observed_at": observed_at} for key in keys])
    db.session.execute(conflict_statement(_upsert_job_links), [
        {"job_id": job.id, "customer_object_id": ids[key], "first_seen_at": observed_at, "last_seen_at": observed_at,
         "last_status": first[key].status, "last_error": first[key].error} for key in keys])
