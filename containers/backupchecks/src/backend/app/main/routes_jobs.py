from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import ADMIN, READERS, STAFF, roles_required
from ..extensions import db
from ..models import Customer, Job, JobRun
from ..services.job_admin import (
    ImportError_,
    archive_job,
    delete_job,
    export_installation,
    import_installation,
    unarchive_job,
)
from ..services.job_schedules import (
    manual_schedule,
    pause_job,
    schedule_summary,
    set_manual_schedule,
    set_schedule_mode,
)
from ..services.jobs import job_overview, job_with_customer, live_jobs_query
from ..services.schedules import LearnedSchedule
from ..services.tickets import describe_scope, tickets_for_job
from ..timefmt import current_zone
from . import bp
from .forms import ConfirmForm, PauseForm, ScheduleForm
from .pagination import Page, page_number, paginate


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


def _get_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.deleted_at is not None:
        abort(404)
    return job


RUNS_PER_PAGE = 25


@bp.route("/jobs/<int:job_id>")
@roles_required(*READERS)
def job_detail(job_id: int):
    job = job_with_customer(job_id)
    if job is None or job.deleted_at is not None:
        abort(404)
    zone = current_zone()
    page_no = page_number()
    overview = job_overview(job.id, zone, datetime.now(UTC), page_no, RUNS_PER_PAGE)
    return render_template("main/job_detail.html", job=job,
                           runs=Page(overview.runs, page_no, RUNS_PER_PAGE, overview.run_total),
                           objects=overview.objects, bar=overview.bar, overrides=overview.overrides,
                           tickets=tickets_for_job(job, [run.id for run in overview.runs]),
                           describe_scope=describe_scope,
                           confirm_form=ConfirmForm(), schedule_text=schedule_summary(job, zone))


@bp.route("/jobs/<int:job_id>/schedule", methods=["GET"])
@roles_required(*STAFF)
def job_schedule_form(job_id: int):
    job = _get_job(job_id)
    manual = manual_schedule(job)
    schedule_form = ScheduleForm(data={
        "mode": job.schedule_mode, "kind": manual.kind if manual and manual.kind != "irregular" else "daily",
        "weekdays": [str(d) for d in manual.weekdays] if manual else [],
        "days_of_month": ", ".join("last" if d == -1 else str(d) for d in manual.days_of_month) if manual else "",
        "times": ", ".join(manual.times) if manual else "",
        "tolerance_minutes": manual.tolerance_minutes if manual else 30})
    return render_template("main/job_schedule.html", job=job, schedule_form=schedule_form,
                           pause_form=PauseForm(data={"paused_until": job.paused_until}),
                           schedule_text=schedule_summary(job, current_zone()))


def _parse_days_of_month(raw: str) -> list[int]:
    days = []
    for part in (p.strip().lower() for p in raw.replace(";", ",").split(",")):
        if not part:
            continue
        if part in ("last", "-1"):
            days.append(-1)
        elif part.isdigit() and 1 <= int(part) <= 31:
            days.append(int(part))
        else:
            raise ValueError(f"{part!r} is not a day of the month (1-31 or last)")
    return days


@bp.route("/jobs/<int:job_id>/schedule", methods=["POST"])
@roles_required(*STAFF)
def job_schedule(job_id: int):
    job = _get_job(job_id)
    form = ScheduleForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()), "danger")
        return redirect(url_for("main.job_schedule_form", job_id=job.id))
    try:
        if form.mode.data == "manual":
            times = [t.strip() for t in (form.times.data or "").split(",") if t.strip()]
            schedule = LearnedSchedule.manual(
                form.kind.data, times=times, weekdays=[int(d) for d in form.weekdays.data or []] or None,
                days_of_month=_parse_days_of_month(form.days_of_month.data or ""),
                tolerance_minutes=form.tolerance_minutes.data or 30)
            set_manual_schedule(current_user, job, schedule)
        else:
            set_schedule_mode(current_user, job, form.mode.data)
    except ValueError as exc:
        flash(f"Schedule not saved: {exc}", "danger")
        return redirect(url_for("main.job_schedule_form", job_id=job.id))
    db.session.commit()
    flash(f"Schedule saved: {schedule_summary(job, current_zone())}.", "success")
    return redirect(url_for("main.job_detail", job_id=job.id))


@bp.route("/jobs/<int:job_id>/pause", methods=["POST"])
@roles_required(*STAFF)
def job_pause(job_id: int):
    job = _get_job(job_id)
    form = PauseForm()
    if not form.validate_on_submit():
        flash("Give a valid date, or leave it empty to resume.", "danger")
        return redirect(url_for("main.job_detail", job_id=job.id))
    pause_job(current_user, job, form.paused_until.data)
    db.session.commit()
    flash(f"Paused until {job.paused_until.isoformat()}." if job.paused_until else "Job resumed.", "success")
    return redirect(url_for("main.job_detail", job_id=job.id))


@bp.route("/jobs/<int:job_id>/archive", methods=["POST"])
@roles_required(*ADMIN)
def job_archive(job_id: int):
    job = _get_job(job_id)
    if request.form.get("action") == "unarchive":
        unarchive_job(current_user, job)
        flash(f"Job {job.job_name} is active again.", "success")
    else:
        archive_job(current_user, job)
        flash(f"Job {job.job_name} archived: it is out of every queue.", "success")
    db.session.commit()
    return redirect(url_for("main.job_detail", job_id=job.id))


@bp.route("/jobs/<int:job_id>/delete", methods=["POST"])
@roles_required(*ADMIN)
def job_delete(job_id: int):
    job = _get_job(job_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    delete_job(current_user, job)
    db.session.commit()
    flash(f"Job {job.job_name} deleted.", "success")
    return redirect(url_for("main.jobs", customer_id=job.customer_id))


@bp.route("/jobs/archived")
@roles_required(*READERS)
def archived_jobs():
    query = (select(Job, Customer.name.label("customer_name")).join(Customer, Customer.id == Job.customer_id)
             .where(Job.archived_at.is_not(None), Job.deleted_at.is_(None))
             .order_by(Job.archived_at.desc()))
    return render_template("main/archived_jobs.html", page=paginate(query, per_page=50, scalars=False))


@bp.route("/jobs/export.json")
@roles_required(*ADMIN)
def jobs_export():
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(json.dumps(export_installation(), indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename=backupchecks-export-{stamp}.json"})


@bp.route("/jobs/import", methods=["POST"])
@roles_required(*ADMIN)
def jobs_import():
    upload = request.files.get("file")
    if not upload or not upload.filename:
        flash("Choose an export file.", "warning")
        return redirect(url_for("main.jobs"))
    try:
        report = import_installation(current_user, upload.read())
    except ImportError_ as exc:
        db.session.rollback()
        flash(f"Import refused: {exc}", "danger")
        return redirect(url_for("main.jobs"))
    db.session.commit()
    flash(f"Imported {report.customers_created} customer(s) and {report.jobs_created} job(s); "
          f"{report.customers_existing} customer(s) and {report.jobs_existing} job(s) were already here.",
          "success" if not report.errors else "warning")
    for error in report.errors[:20]:
        flash(f"Skipped {error}", "warning")
    return redirect(url_for("main.jobs"))

