"""Tickets and remarks: their pages, and creating them from Run Checks for a run or a job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Kind:
    """What differs between the ticket pages and the remark pages; the flow of each page is shared."""

    name: str  # ticket | remark
    model: type
    scope_model: type
    link_model: type
    owner_field: str
    new_form: type
    edit_form: type
    list_query: Callable
    create: Callable  # (form, runs) -> ticket or remark
    update: Callable  # (item, form) -> None
    resolve: Callable  # (item) -> None
    reopen: Callable  # (item) -> None
    add_scope: Callable
    resolve_scope: Callable
    label: Callable  # (item) -> "Ticket T2026…" | "Remark 4"

    def endpoint(self, page: str) -> str:
        return f"main.{self.name}_{page}"

    def url(self, page: str, item_id: int) -> str:
        return url_for(self.endpoint(page), **{f"{self.name}_id": item_id})

    def template(self, page: str) -> str:
        return f"main/{self.name}{'s' if page == 'list' else '_form'}.html"


TICKETS = _Kind(
    name="ticket", model=Ticket, scope_model=TicketScope, link_model=TicketJobRun, owner_field="ticket_id",
    new_form=NewTicketForm, edit_form=TicketForm, list_query=ticket_list_query,
    create=lambda form, runs: create_ticket(
        current_user, code=form.ticket_code.data, description=form.description.data, scope=_scope_input(form),
        active_from_date=form.active_from_date.data, start_date=form.start_date.data, runs=runs),
    update=lambda ticket, form: update_ticket(
        current_user, ticket, code=form.ticket_code.data, description=form.description.data,
        active_from_date=form.active_from_date.data or ticket.active_from_date, start_date=form.start_date.data),
    resolve=lambda ticket: resolve_ticket(ticket, user=current_user),
    reopen=lambda ticket: reopen_ticket(current_user, ticket),
    add_scope=lambda ticket, scope: add_ticket_scope(current_user, ticket, scope),
    resolve_scope=lambda scope: resolve_ticket_scope(current_user, scope),
    label=lambda ticket: f"Ticket {ticket.ticket_code}")

REMARKS = _Kind(
    name="remark", model=Remark, scope_model=RemarkScope, link_model=RemarkJobRun, owner_field="remark_id",
    new_form=NewRemarkForm, edit_form=RemarkForm, list_query=remark_list_query,
    create=lambda form, runs: create_remark(
        current_user, body=form.body.data, scope=_scope_input(form), active_from_date=form.active_from_date.data,
        active_until_date=form.active_until_date.data, runs=runs),
    update=lambda remark, form: update_remark(
        current_user, remark, body=form.body.data,
        active_from_date=form.active_from_date.data or remark.active_from_date,
        active_until_date=form.active_until_date.data),
    resolve=lambda remark: resolve_remark(current_user, remark),
    reopen=lambda remark: reopen_remark(current_user, remark),
    add_scope=lambda remark, scope: add_remark_scope(current_user, remark, scope),
    resolve_scope=lambda scope: resolve_remark_scope(current_user, scope),
    label=lambda remark: f"Remark {remark.id}")


def _list_page(kind: _Kind):
    show = "resolved" if request.args.get("show") == "resolved" else "open"
    search = (request.args.get("q") or "").strip()
    page = paginate(kind.list_query(show == "resolved", search or None), PER_PAGE)
    counts = run_counts(kind.link_model, kind.owner_field, [item.id for item in page.items])
    return render_template(kind.template("list"), page=page, show=show, search=search, run_counts=counts,
                           describe_scope=describe_scope, confirm_form=ConfirmForm(), kind=kind.name)


def _create_page(kind: _Kind):
    form = kind.new_form()
    if request.method == "GET":
        run = _prefill_scope(form)
    else:
        run = db.session.get(JobRun, request.args.get("run_id", type=int) or 0)
    if form.validate_on_submit():
        try:
            item = kind.create(form, [run] if run is not None else [])
        except TicketError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"{kind.label(item)} created.", "success")
            return redirect(kind.url("edit", item.id))
    return render_template(kind.template("form"), form=form, item=None, run=run, kind=kind.name, **_form_context())


def _get(kind: _Kind, item_id: int):
    return db.session.get(kind.model, item_id) or abort(404)


def _edit_page(kind: _Kind, item_id: int):
    item = _get(kind, item_id)
    form = kind.edit_form(obj=item)
    if form.validate_on_submit():
        try:
            kind.update(item, form)
        except TicketError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"{kind.label(item)} saved.", "success")
            return redirect(kind.url("edit", item.id))
    return render_template(kind.template("form"), form=form, item=item, kind=kind.name,
                           scope_form=ScopeForm(formdata=None), describe_scope=describe_scope,
                           runs=linked_runs(kind.link_model, kind.owner_field, item.id), confirm_form=ConfirmForm(),
                           **_form_context())


def _confirmed() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def _resolve(kind: _Kind, item_id: int):
    _confirmed()
    item = _get(kind, item_id)
    kind.resolve(item)
    db.session.commit()
    flash(f"{kind.label(item)} resolved: new runs no longer get it; runs linked so far keep it.", "success")
    return redirect(_back(url_for(kind.endpoint("list"))))


def _reopen(kind: _Kind, item_id: int):
    _confirmed()
    item = _get(kind, item_id)
    try:
        kind.reopen(item)
    except TicketError as exc:
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"{kind.label(item)} reopened.", "success")
    return redirect(_back(url_for(kind.endpoint("list"), show="resolved")))


def _add_scope(kind: _Kind, item_id: int):
    item = _get(kind, item_id)
    form = ScopeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        scope = kind.add_scope(item, _scope_input(form))
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"{describe_scope(scope)} added.", "success")
    return redirect(kind.url("edit", item_id))


def _resolve_scope(kind: _Kind, scope_id: int):
    _confirmed()
    scope = db.session.get(kind.scope_model, scope_id) or abort(404)
    kind.resolve_scope(scope)
    db.session.commit()
    flash(f"Resolved for {describe_scope(scope)}.", "success")
    return redirect(kind.url("edit", getattr(scope, kind.owner_field)))


# Each page exists for tickets and for remarks, with its own endpoint and URL.

@bp.route("/tickets")
@roles_required(*STAFF)
def ticket_list():
    return _list_page(TICKETS)


@bp.route("/remarks")
@roles_required(*STAFF)
def remark_list():
    return _list_page(REMARKS)


@bp.route("/tickets/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def ticket_create():
    return _create_page(TICKETS)


@bp.route("/remarks/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def remark_create():
    return _create_page(REMARKS)


@bp.route("/tickets/<int:ticket_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def ticket_edit(ticket_id: int):
    return _edit_page(TICKETS, ticket_id)


@bp.route("/remarks/<int:remark_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def remark_edit(remark_id: int):
    return _edit_page(REMARKS, remark_id)


@bp.route("/tickets/<int:ticket_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def ticket_resolve(ticket_id: int):
    return _resolve(TICKETS, ticket_id)


@bp.route("/remarks/<int:remark_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def remark_resolve(remark_id: int):
    return _resolve(REMARKS, remark_id)


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@roles_required(*STAFF)
def ticket_reopen(ticket_id: int):
    return _reopen(TICKETS, ticket_id)


@bp.route("/remarks/<int:remark_id>/reopen", methods=["POST"])
@roles_required(*STAFF)
def remark_reopen(remark_id: int):
    return _reopen(REMARKS, remark_id)


@bp.route("/tickets/<int:ticket_id>/scopes", methods=["POST"])
@roles_required(*STAFF)
def ticket_scope_add(ticket_id: int):
    return _add_scope(TICKETS, ticket_id)


@bp.route("/remarks/<int:remark_id>/scopes", methods=["POST"])
@roles_required(*STAFF)
def remark_scope_add(remark_id: int):
    return _add_scope(REMARKS, remark_id)


@bp.route("/tickets/scopes/<int:scope_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def ticket_scope_resolve(scope_id: int):
    return _resolve_scope(TICKETS, scope_id)


@bp.route("/remarks/scopes/<int:scope_id>/resolve", methods=["POST"])
@roles_required(*STAFF)
def remark_scope_resolve(scope_id: int):
    return _resolve_scope(REMARKS, scope_id)


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
