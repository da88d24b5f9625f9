"""Customer objects (VMs, machines, shares, datasources) and their results per job and run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from ..extensions import db
from ..models import CustomerObject, Job, JobObjectLink, JobRun, RunObjectLink
from ..parsers.base import ParsedObject


def record_run_objects(job: Job, run: JobRun, objects: Sequence[ParsedObject], observed_at: datetime) -> None:
    """Store each object's result for ``run`` and refresh the job's view of its objects.

    Written with a handful of set-based statements rather than one ORM object per row: this runs for
    every imported mail, and a job with many VMs would otherwise cost a statement per VM.
    """
    first: dict[tuple[str, str], ParsedObject] = {}
    for parsed in objects:
        # The same object listed twice in one mail: the first entry counts.
        first.setdefault((parsed.type or "", parsed.name[:512]), parsed)
    if not first:
        return
    known = {(row.object_type, row.name): row.id for row in db.session.execute(
        select(CustomerObject.id, CustomerObject.object_type, CustomerObject.name)
        .where(CustomerObject.customer_id == job.customer_id,
               CustomerObject.name.in_([name for _type, name in first])))}
    missing = [key for key in first if key not in known]
    if missing:
        created = db.session.execute(
            insert(CustomerObject).returning(CustomerObject.id, CustomerObject.object_type, CustomerObject.name),
            [{"customer_id": job.customer_id, "object_type": t, "name": n, "first_seen_at": observed_at,
              "last_seen_at": observed_at} for t, n in missing])
        known.update({(row.object_type, row.name): row.id for row in created})
    ids = {key: known[key] for key in first}
    db.session.execute(update(CustomerObject).where(CustomerObject.id.in_(list(ids.values())),
                                                    CustomerObject.last_seen_at < observed_at)
                       .values(last_seen_at=observed_at).execution_options(synchronize_session=False))
    db.session.execute(insert(RunObjectLink), [
        {"job_run_id": run.id, "customer_object_id": ids[key], "status": parsed.status,
         "error_message": parsed.error, "observed_at": observed_at} for key, parsed in first.items()])
    links = {row.customer_object_id: row for row in db.session.execute(
        select(JobObjectLink.id, JobObjectLink.customer_object_id, JobObjectLink.last_seen_at)
        .where(JobObjectLink.job_id == job.id, JobObjectLink.customer_object_id.in_(list(ids.values()))))}
    new_links, newer = [], []
    for key, parsed in first.items():
        link = links.get(ids[key])
        if link is None:
            new_links.append({"job_id": job.id, "customer_object_id": ids[key], "first_seen_at": observed_at,
                              "last_seen_at": observed_at, "last_status": parsed.status,
                              "last_error": parsed.error})
        elif observed_at >= link.last_seen_at:
            newer.append({"link_id": link.id, "seen": observed_at, "status": parsed.status, "error": parsed.error})
    if new_links:
        db.session.execute(insert(JobObjectLink), new_links)
    if newer:
        db.session.execute(
            update(JobObjectLink.__table__).where(JobObjectLink.__table__.c.id == bindparam("link_id"))
            .values(last_seen_at=bindparam("seen"), last_status=bindparam("status"), last_error=bindparam("error")),
            newer)
