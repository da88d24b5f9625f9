from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import func, select

from ..auth.access import READERS, roles_required
from ..extensions import db
from ..models import Customer, Job, JobRun
from ..services.jobs import live_jobs_query
from . import bp
from .pagination import paginate


@bp.route("/jobs")
@roles_required(*READERS)
def jobs():
    customer_id = request.args.get("customer_id", type=int)
    q = request.args.get("q", "").strip()
    customer = db.session.get(Customer, customer_id) if customer_id else None
    if customer_id and customer is None:
        abort(404)
    last_run = (select(func.max(JobRun.run_at)).where(JobRun.job_id == Job.id).correlate(Job).scalar_subquery())
    query = (live_jobs_query(customer_id=customer_id)
             .add_columns(Customer.name.label("customer_name"), last_run.label("last_run_at"))
             .order_by(func.lower(Customer.name), func.lower(Job.job_name)))
    if q:
        like = f"%{q}%"
        query = query.where(Job.job_name.ilike(like) | Job.backup_software.ilike(like) | Customer.name.ilike(like))
    page = paginate(query, per_page=50, scalars=False)
    return render_template("main/jobs.html", page=page, customer=customer, q=q)


@bp.route("/jobs/<int:job_id>")
@roles_required(*READERS)
def job_detail(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None or job.deleted_at is not None:
        abort(404)
    runs = paginate(select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.run_at.desc()), per_page=25)
    return render_template("main/job_detail.html", job=job, runs=runs)
