"""Run Checks: the morning queue, its run modal, and the review actions."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..auth.access import ADMIN, STAFF, roles_required
from ..extensions import db
from ..models import RUN_STATUSES, Customer, Job, JobRun, RunObjectLink
from ..services.reviews import (
    mark_run_success,
    review_jobs,
    review_runs,
    unreview_jobs,
    unreview_runs,
)
from ..services.run_checks import RunCheckFilters, run_check_page
from ..services.settings import get_settings
from ..services.tickets import alerts_for_run, open_autotask_ticket_code
from . import bp
from .pagination import Page, page_number

PER_PAGE = 50
MODAL_RUNS = 50


def _job_ids() -> list[int]:
    return [int(i) for i in request.form.getlist("job_ids") if i.isdigit()]


def _back() -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else url_for("main.run_checks")


@bp.route("/run-checks")
@roles_required(*STAFF)
def run_checks():
    status = request.args.get("status") or None
    filters = RunCheckFilters(
        customer_id=request.args.get("customer_id", type=int),
        software=request.args.get("software") or None,
        status=status if status in RUN_STATUSES else None,
        include_reviewed=current_user.active_role == "admin" and request.args.get("include_reviewed") == "1")
    page_no = page_number()
    rows, total = run_check_page(filters, page_no, PER_PAGE)
    customers = db.session.execute(select(Customer.id, Customer.name).where(Customer.active.is_(True))
                                   .order_by(func.lower(Customer.name))).all()
    softwares = db.session.scalars(select(Job.backup_software).distinct().where(Job.deleted_at.is_(None))
                                   .order_by(Job.backup_software)).all()
    return render_template("main/run_checks.html", rows=rows, page=Page(rows, page_no, PER_PAGE, total),
                           filters=filters, customers=customers, softwares=softwares)


@bp.route("/run-checks/review", methods=["POST"])
@roles_required(*STAFF)
def run_checks_review():
    count = review_jobs(current_user, _job_ids())
    db.session.commit()
    flash(f"{count} run(s) marked reviewed." if count else "Select one or more jobs first.",
          "success" if count else "warning")
    return redirect(_back())


@bp.route("/run-checks/unreview", methods=["POST"])
@roles_required(*ADMIN)
def run_checks_unreview():
    count = unreview_jobs(current_user, _job_ids())
    db.session.commit()
    flash(f"{count} run(s) back in the queue." if count else "Nothing to unmark.", "success" if count else "warning")
    return redirect(_back())


def _get_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.deleted_at is not None:
        abort(404)
    return job


def _get_run(run_id: int) -> JobRun:
    run = db.session.get(JobRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/run-checks/jobs/<int:job_id>")
@roles_required(*STAFF)
def run_checks_job(job_id: int):
    """The run modal's content: the job's runs, newest first."""
    job = _get_job(job_id)
    runs = db.session.scalars(
        select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.run_at.desc(), JobRun.id.desc())
        .limit(MODAL_RUNS)
        .options(selectinload(JobRun.object_links).selectinload(RunObjectLink.customer_object),
                 selectinload(JobRun.override), selectinload(JobRun.reviewed_by))).all()
    return render_template("main/run_checks_job.html", job=job, runs=runs,
                           autotask_enabled=get_settings().autotask_enabled,
                           job_autotask_ticket=open_autotask_ticket_code(job))


@bp.route("/run-checks/runs/<int:run_id>/review", methods=["POST"])
@roles_required(*STAFF)
def run_review(run_id: int):
    review_runs(current_user, [_get_run(run_id)])
    db.session.commit()
    return _run_action_response("Run marked reviewed.")


@bp.route("/run-checks/runs/<int:run_id>/unreview", methods=["POST"])
@roles_required(*ADMIN)
def run_unreview(run_id: int):
    unreview_runs(current_user, [_get_run(run_id)])
    db.session.commit()
    return _run_action_response("Run back in the queue.")


@bp.route("/run-checks/runs/<int:run_id>/mark-success", methods=["POST"])
@roles_required(*STAFF)
def run_mark_success(run_id: int):
    run = _get_run(run_id)
    with_override = request.form.get("create_override") in ("1", "true", "on", "yes")
    mark_run_success(current_user, run, with_override, request.form.get("comment"))
    db.session.commit()
    return _run_action_response("Run marked as success" + (" and an override created for future runs."
                                                           if with_override else "."))


def _run_action_response(message: str):
    if request.accept_mimetypes.best == "application/json" or request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"ok": True, "message": message})
    flash(message, "success")
    return redirect(_back())


@bp.route("/api/job-runs/<int:run_id>/alerts")
@roles_required(*STAFF)
def run_alerts(run_id: int):
    alerts = alerts_for_run(_get_run(run_id))
    for item in alerts["tickets"]:
        item["url"] = url_for("main.ticket_edit", ticket_id=item["id"])
    for item in alerts["remarks"]:
        item["url"] = url_for("main.remark_edit", remark_id=item["id"])
    return jsonify(alerts)
