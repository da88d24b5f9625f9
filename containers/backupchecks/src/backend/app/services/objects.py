"""Customer objects (VMs, machines, shares, datasources) and their results per job and run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import CustomerObject, Job, JobObjectLink, JobRun, RunObjectLink
from ..parsers.base import ParsedObject


def record_run_objects(job: Job, run: JobRun, objects: Sequence[ParsedObject], observed_at: datetime) -> None:
    """Store each object's result for ``run`` and refresh the job's view of its objects."""
    if not objects:
        return
    known = {(o.object_type, o.name): o for o in db.session.scalars(
        select(CustomerObject).where(CustomerObject.customer_id == job.customer_id,
                                     CustomerObject.name.in_([p.name[:512] for p in objects])))}
    # Only the links of these objects: a job with thousands of objects must not load them all per run.
    links = {link.customer_object_id: link for link in db.session.scalars(
        select(JobObjectLink).where(JobObjectLink.job_id == job.id,
                                    JobObjectLink.customer_object_id.in_([o.id for o in known.values()])))
             } if known else {}
    seen: set[int] = set()
    for parsed in objects:
        key = (parsed.type or "", parsed.name[:512])
        customer_object = known.get(key)
        if customer_object is None:
            customer_object = CustomerObject(customer_id=job.customer_id, object_type=key[0], name=key[1],
                                             first_seen_at=observed_at, last_seen_at=observed_at)
            db.session.add(customer_object)
            db.session.flush()
            known[key] = customer_object
        elif observed_at > customer_object.last_seen_at:
            customer_object.last_seen_at = observed_at
        if customer_object.id in seen:
            continue  # the same object listed twice in one mail: the first entry counts
        seen.add(customer_object.id)
        db.session.add(RunObjectLink(job_run_id=run.id, customer_object_id=customer_object.id, status=parsed.status,
                                     error_message=parsed.error, observed_at=observed_at))
        link = links.get(customer_object.id)
        if link is None:
            link = JobObjectLink(job_id=job.id, customer_object_id=customer_object.id, first_seen_at=observed_at,
                                 last_seen_at=observed_at, last_status=parsed.status, last_error=parsed.error)
            db.session.add(link)
            links[customer_object.id] = link
        elif observed_at >= link.last_seen_at:
            link.last_seen_at = observed_at
            link.last_status = parsed.status
            link.last_error = parsed.error
    db.session.flush()
