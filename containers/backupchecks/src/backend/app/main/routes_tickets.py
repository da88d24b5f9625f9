"""Tickets and remarks: their pages, and creating them from Run Checks for a run or a job."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import STAFF, roles_required
from ..extensions import db
from ..models import (
    Customer,
    CustomerObject,
    Job,
    JobObjectLink,
    JobRun,
    Remark,
    RemarkJobRun,
    RemarkScope,
    Ticket,
    TicketJobRun,
    TicketScope,
)
from ..services.tickets import (
    ScopeInput,
    TicketError,
    add_remark_scope,
    add_ticket_scope,
    create_remark,
    create_ticket,
    describe_scope,
    linked_runs,
    remark_list_query,
    reopen_remark,
    reopen_ticket,
    resolve_remark,
    resolve_remark_scope,
    resolve_ticket,
    resolve_ticket_scope,
    run_counts,
    ticket_list_query,
    update_remark,
    update_ticket,
)
from . import bp
from .forms import ConfirmForm, NewRemarkForm, NewTicketForm, RemarkForm, ScopeForm, TicketForm
from .pagination import paginate
from .routes_overrides import _job_choices

PER_PAGE = 50


def _scope_input(form: ScopeForm) -> ScopeInput:
    return ScopeInput(scope_type=form.scope_type.data, customer_id=form.customer_id.data, job_id=form.job_id.data,
                      backup_software=form.backup_software.data, backup_type=form.backup_type.data,
                      customer_object_id=form.customer_object_id.data)


def _form_context() -> dict:
    customers = db.session.execute(select(Customer.id, Customer.name).order_by(func.lower(Customer.name))).all()
    softwares = db.session.execute(select(Job.backup_software, Job.backup_type).distinct()
                                   .where(Job.deleted_at.is_(None))
                                   .order_by(Job.backup_software, Job.backup_type)).all()
    return {"customers": customers, "jobs": _job_choices(), "softwares": softwares}


def _prefill_scope(form: ScopeForm) -> JobRun | None:
    """New ticket or remark opened for a run, a job or a customer: start with that scope."""
    run = db.session.get(JobRun, request.args.get("run_id", type=int) or 0)
    job_id = run.job_id if run is not None else request.args.get("job_id", type=int)
    if job_id:
        form.scope_type.data, form.job_id.data = "job", job_id
    elif request.args.get("customer_id", type=int):
        form.scope_type.data, form.customer_id.data = "customer", request.args.get("customer_id", type=int)
    return run


def _runs_for_new(run: JobRun | None) -> list[JobRun]:
    return [run] if run is not None else []


def _list_page(kind: str, query_for, template: str, link_model, owner_field: str):
    show = "resolved" if request.args.get("show") == "resolved" else "open"
    search = (request.args.get("q") or "").strip()
    page = paginate(query_for(show == "resolved", search or None), PER_PAGE)
    counts = run_counts(link_model, owner_field, [item.id for item in page.items])
    return render_template(template, page=page, show=show, search=search, run_counts=counts,
                           describe_scope=describe_scope, confirm_form=ConfirmForm(), kind=kind)


# ---- tickets ---------------------------------------------------------------------------------------


@bp.route("/tickets")
@roles_required(*STAFF)
def tickets():
    return _list_page("ticket", ticket_list_query, "main/tickets.html", TicketJobRun, "ticket_id")


@bp.route("/tickets/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def ticket_create():
    form = NewTicketForm()
    run = _prefill_scope(form) if request.method == "GET" else db.session.get(
        JobRun, request.args.get("run_id", type=int) or 0)
    if form.validate_on_submit():
        try:
            ticket = create_ticket(current_user, code=form.ticket_code.data, description=form.description.data,
                                   scope=_scope_input(form), active_from_date=form.active_from_date.data,
                                   start_date=form.start_date.data, runs=_runs_for_new(run))
        except TicketError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Ticket {ticket.ticket_code} created.", "success")
            return redirect(url_for("main.ticket_edit", ticket_id=ticket.id))
    return render_template("main/ticket_form.html", form=form, ticket=None, run=run, **_form_context())


def _get_ticket(ticket_id: int) -> Ticket:
    return db.session.get(Ticket, ticket_id) or abort(404)


@bp.route("/tickets/<int:ticket_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def ticket_edit(ticket_id: int):
    ticket = _get_ticket(ticket_id)
    form = TicketForm(obj=ticket)
    if form.validate_on_submit():
        try:
            update_ticket(current_user, ticket, code=form.ticket_code.data, description=form.description.data,
                          active_from_date=form.active_from_date.data or ticket.active_from_date,
                          start_date=form.start_date.data)
        except TicketError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Ticket {ticket.ticket_code} saved.", "success")
            return redirect(url_for("main.ticket_edit", ticket_id=ticket.id))
    return render_template("main/ticket_form.html", form=form, ticket=ticket, scope_form=ScopeForm(formdata=None),
                           runs=linked_runs(TicketJobRun, "ticket_id", ticket.id), describe_scope=describe_scope,
                           confirm_form=ConfirmForm(), **_form_context())


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


@bp.route("/tickets/<int:ticket_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def ticket_resolve(ticket_id: int):
    _confirmed()
    ticket = _get_ticket(ticket_id)
    resolve_ticket(ticket, user=current_user)
    db.session.commit()
    flash(f"Ticket {ticket.ticket_code} resolved: new runs no longer get it; runs linked so far keep it.", "success")
    return redirect(_back(url_for("main.tickets")))


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@roles_required(*STAFF)
def ticket_reopen(ticket_id: int):
    _confirmed()
    ticket = _get_ticket(ticket_id)
    try:
        reopen_ticket(current_user, ticket)
    except TicketError as exc:
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"Ticket {ticket.ticket_code} reopened.", "success")
    return redirect(_back(url_for("main.tickets", show="resolved")))


@bp.route("/tickets/<int:ticket_id>/scopes", methods=["POST"])
@roles_required(*STAFF)
def ticket_scope_add(ticket_id: int):
    ticket = _get_ticket(ticket_id)
    form = ScopeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        scope = add_ticket_scope(current_user, ticket, _scope_input(form))
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"{describe_scope(scope)} added.", "success")
    return redirect(url_for("main.ticket_edit", ticket_id=ticket_id))


@bp.route("/tickets/scopes/<int:scope_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def ticket_scope_resolve(scope_id: int):
    _confirmed()
    scope = db.session.get(TicketScope, scope_id) or abort(404)
    resolve_ticket_scope(current_user, scope)
    db.session.commit()
    flash(f"Resolved for {describe_scope(scope)}.", "success")
    return redirect(url_for("main.ticket_edit", ticket_id=scope.ticket_id))


# ---- remarks ---------------------------------------------------------------------------------------


@bp.route("/remarks")
@roles_required(*STAFF)
def remarks():
    return _list_page("remark", remark_list_query, "main/remarks.html", RemarkJobRun, "remark_id")


@bp.route("/remarks/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def remark_create():
    form = NewRemarkForm()
    run = _prefill_scope(form) if request.method == "GET" else db.session.get(
        JobRun, request.args.get("run_id", type=int) or 0)
    if form.validate_on_submit():
        try:
            remark = create_remark(current_user, body=form.body.data, scope=_scope_input(form),
                                   active_from_date=form.active_from_date.data,
                                   active_until_date=form.active_until_date.data, runs=_runs_for_new(run))
        except TicketError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Remark created.", "success")
            return redirect(url_for("main.remark_edit", remark_id=remark.id))
    return render_template("main/remark_form.html", form=form, remark=None, run=run, **_form_context())


def _get_remark(remark_id: int) -> Remark:
    return db.session.get(Remark, remark_id) or abort(404)


@bp.route("/remarks/<int:remark_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def remark_edit(remark_id: int):
    remark = _get_remark(remark_id)
    form = RemarkForm(obj=remark)
    if form.validate_on_submit():
        try:
            update_remark(current_user, remark, body=form.body.data,
                          active_from_date=form.active_from_date.data or remark.active_from_date,
                          active_until_date=form.active_until_date.data)
        except TicketError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Remark saved.", "success")
            return redirect(url_for("main.remark_edit", remark_id=remark.id))
    return render_template("main/remark_form.html", form=form, remark=remark, scope_form=ScopeForm(formdata=None),
                           runs=linked_runs(RemarkJobRun, "remark_id", remark.id), describe_scope=describe_scope,
                           confirm_form=ConfirmForm(), **_form_context())


@bp.route("/remarks/<int:remark_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def remark_resolve(remark_id: int):
    _confirmed()
    remark = _get_remark(remark_id)
    resolve_remark(current_user, remark)
    db.session.commit()
    flash("Remark resolved: new runs no longer get it; runs linked so far keep it.", "success")
    return redirect(_back(url_for("main.remarks")))


@bp.route("/remarks/<int:remark_id>/reopen", methods=["POST"])
@roles_required(*STAFF)
def remark_reopen(remark_id: int):
    _confirmed()
    remark = _get_remark(remark_id)
    reopen_remark(current_user, remark)
    db.session.commit()
    flash("Remark reopened.", "success")
    return redirect(_back(url_for("main.remarks", show="resolved")))


@bp.route("/remarks/<int:remark_id>/scopes", methods=["POST"])
@roles_required(*STAFF)
def remark_scope_add(remark_id: int):
    remark = _get_remark(remark_id)
    form = ScopeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        scope = add_remark_scope(current_user, remark, _scope_input(form))
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"{describe_scope(scope)} added.", "success")
    return redirect(url_for("main.remark_edit", remark_id=remark_id))


@bp.route("/remarks/scopes/<int:scope_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def remark_scope_resolve(scope_id: int):
    _confirmed()
    scope = db.session.get(RemarkScope, scope_id) or abort(404)
    resolve_remark_scope(current_user, scope)
    db.session.commit()
    flash(f"Resolved for {describe_scope(scope)}.", "success")
    return redirect(url_for("main.remark_edit", remark_id=scope.remark_id))


# ---- from Run Checks -------------------------------------------------------------------------------


def _run_or_404(run_id: int) -> JobRun:
    run = db.session.get(JobRun, run_id)
    if run is None or run.job.deleted_at is not None:
        abort(404)
    return run


def _unreviewed_runs(job_id: int) -> list[JobRun]:
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job_id, JobRun.reviewed_at.is_(None))))


def _json_result(make):
    """Run a create call for the Run Checks modal and answer JSON: ok with a message, or the reason."""
    try:
        message = make()
    except TicketError as exc:
        db.session.rollback()
        return jsonify({"ok": False, "message": str(exc)}), 400
    db.session.commit()
    return jsonify({"ok": True, "message": message})


@bp.route("/run-checks/runs/<int:run_id>/tickets", methods=["POST"])
@roles_required(*STAFF)
def run_ticket_create(run_id: int):
    """A ticket for the run's job, linked to this run (``for=job``: to every unreviewed run of the job)."""
    run = _run_or_404(run_id)
    runs = _unreviewed_runs(run.job_id) if request.form.get("for") == "job" else [run]

    def make() -> str:
        ticket = create_ticket(current_user, code=request.form.get("ticket_code"),
                               description=request.form.get("description"),
                               scope=ScopeInput("job", job_id=run.job_id), runs=runs)
        return f"Ticket {ticket.ticket_code} created and linked to {len(runs)} run(s)."
    return _json_result(make)


@bp.route("/run-checks/runs/<int:run_id>/remarks", methods=["POST"])
@roles_required(*STAFF)
def run_remark_create(run_id: int):
    """A remark for the run's job, linked to this run (``for=job``: to every unreviewed run of the job)."""
    run = _run_or_404(run_id)
    runs = _unreviewed_runs(run.job_id) if request.form.get("for") == "job" else [run]

    def make() -> str:
        create_remark(current_user, body=request.form.get("body"), scope=ScopeInput("job", job_id=run.job_id),
                      runs=runs)
        return f"Remark added to {len(runs)} run(s)."
    return _json_result(make)


@bp.route("/api/jobs/<int:job_id>/objects")
@roles_required(*STAFF)
def job_objects_api(job_id: int):
    """The objects of a job, for the object scope of the ticket and remark forms."""
    rows = db.session.execute(
        select(CustomerObject.id, CustomerObject.name, CustomerObject.object_type)
        .join(JobObjectLink, JobObjectLink.customer_object_id == CustomerObject.id)
        .where(JobObjectLink.job_id == job_id).order_by(func.lower(CustomerObject.name))).all()
    return jsonify([{"id": r.id, "name": r.name, "type": r.object_type} for r in rows])
