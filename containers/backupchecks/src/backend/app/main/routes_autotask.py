"""Autotask: the settings tab, customer to company mapping, and creating a ticket for a run.

Every route that talks to Autotask builds its client from the stored settings, commits (so no
transaction stays open while Autotask answers), makes the call, and writes what came back in a
new transaction.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import requests
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from ..auth.access import ADMIN, STAFF, roles_required
from ..clients.autotask import AutotaskClient, AutotaskError
from ..extensions import db
from ..jobs import autotask_sync
from ..jobs.runner import run_in_background
from ..models import Customer, JobRun, SystemSettings, Ticket
from ..models.types import utcnow
from ..services.audit import record_audit
from ..services.autotask_mapping import (
    STATUS_LABELS,
    MappingError,
    check_company_mapping,
    map_customer_via_autotask,
    mapping_counts,
    unmap_customer,
)
from ..services.autotask_settings import (
    DEFAULT_FIELDS,
    AutotaskNotConfigured,
    AutotaskSettingsInput,
    PicklistOption,
    autotask_client_from_settings,
    default_problems,
    picklist_options,
    refresh_autotask_picklists,
    refresh_autotask_zone,
    update_autotask_settings,
)
from ..services.autotask_tickets import (
    TicketRefused,
    claim_ticket_creation,
    prepare_autotask_ticket,
    record_ticket_failure,
    release_ticket_creation,
    store_created_ticket,
)
from ..services.background import get_task, instance_name
from ..services.secrets import SecretUnreadable, decrypt_secret, secret_readable
from ..services.settings import get_settings
from . import bp
from .forms import AutotaskMapForm, AutotaskSettingsForm, ConfirmForm

log = logging.getLogger(__name__)

# A person is waiting: few retries and short waits. The sync pass has its own, more patient options.
INTERACTIVE_CLIENT = {"timeout": 20.0, "max_attempts": 2, "max_retry_wait": 5.0}
COMPANY_SEARCH_LIMIT = 25


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.headers.get("X-Requested-With") == "fetch"


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def _client_then_commit(settings: SystemSettings) -> AutotaskClient:
    """A client for the stored credentials; the read transaction ends here, before any call is made."""
    client = autotask_client_from_settings(settings, requests.Session(), **INTERACTIVE_CLIENT)
    db.session.commit()
    return client


# ---- settings --------------------------------------------------------------------------------------


def _choices(options: list[PicklistOption], current: int | None) -> list[SelectChoice]:
    choices = [SelectChoice("", "— none —")]
    known = False
    for option in options:
        if option.value == current:
            known = True
        elif not option.active:
            continue
        label = option.label + (" (inactive in Autotask)" if not option.active else "")
        choices.append(SelectChoice(str(option.value), label))
    if current is not None and not known:
        choices.append(SelectChoice(str(current), f"#{current} (not in the cached picklist)"))
    return choices


def _stored_form_data(settings: SystemSettings) -> dict[str, Any]:
    data: dict[str, Any] = {
        "enabled": settings.autotask_enabled, "username": settings.autotask_username,
        "integration_code": settings.autotask_integration_code, "zone_lookup_url": settings.autotask_zone_lookup_url,
        "sync_enabled": settings.autotask_sync_enabled,
        "sync_interval_minutes": settings.autotask_sync_interval_minutes,
    }
    for attribute, _field, _label in DEFAULT_FIELDS:
        data[attribute.removeprefix("autotask_")] = getattr(settings, attribute)
    return data


def _settings_input(form: AutotaskSettingsForm) -> AutotaskSettingsInput:
    defaults = {field: getattr(form, attribute.removeprefix("autotask_")).data
                for attribute, field, _label in DEFAULT_FIELDS}
    return AutotaskSettingsInput(
        enabled=bool(form.enabled.data), username=form.username.data or "", secret=form.secret.data or None,
        integration_code=form.integration_code.data or "", zone_lookup_url=form.zone_lookup_url.data or "",
        defaults=defaults, sync_enabled=bool(form.sync_enabled.data),
        sync_interval_minutes=form.sync_interval_minutes.data or 0)


def _look_up_zone() -> None:
    """After a save: find the zone of a new username (outbound, after the commit) and store it."""
    settings = get_settings()
    if not settings.autotask_username or settings.autotask_zone_url:
        db.session.commit()
        return
    username = settings.autotask_username
    lookup_url = settings.autotask_zone_lookup_url
    db.session.commit()
    try:
        # Only the username is needed to find the zone; the secret stays where it is.
        client = AutotaskClient(username=username, secret="", integration_code="", session=requests.Session(),
                                zone_lookup_base_url=lookup_url, **INTERACTIVE_CLIENT)
        zone = refresh_autotask_zone(client)
    except (AutotaskError, ValueError) as exc:
        db.session.rollback()
        flash(f"The zone of {username} could not be found: {exc}", "warning")
        return
    db.session.commit()
    flash(f"Zone {zone.zone_name or '(unnamed)'}: {zone.api_url}", "info")


@bp.route("/settings/autotask", methods=["GET", "POST"])
@roles_required(*ADMIN)
def settings_autotask():
    current = get_settings()
    form = AutotaskSettingsForm() if request.method == "POST" else AutotaskSettingsForm(data=_stored_form_data(current))
    options = picklist_options(current)
    for attribute, field, _label in DEFAULT_FIELDS:
        getattr(form, attribute.removeprefix("autotask_")).choices = _choices(options.get(field, []),
                                                                                getattr(current, attribute))
    if form.validate_on_submit():
        try:
            update_autotask_settings(current_user, _settings_input(form))
        except ValueError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Autotask settings saved.", "success")
            _look_up_zone()
            return redirect(url_for("main.settings_autotask"))
    secret_stored = bool(current.autotask_secret_encrypted)
    readable = secret_readable(current.autotask_secret_encrypted)
    page = render_template(
        "main/settings_autotask.html", form=form, tab="autotask", settings=current, secret_stored=secret_stored,
        secret_readable=readable, task=get_task(autotask_sync.TASK_NAME),
        picklists_loaded=bool(options), default_problems=default_problems(current), mapping_counts=mapping_counts(),
        status_labels=STATUS_LABELS, open_tickets=_open_autotask_ticket_count())
    db.session.commit()
    return page


def _open_autotask_ticket_count() -> int:
    return db.session.scalar(select(func.count(Ticket.id)).where(
        Ticket.autotask_ticket_id.is_not(None), Ticket.resolved_at.is_(None),
        Ticket.autotask_ticket_deleted_at.is_(None))) or 0


@bp.route("/settings/autotask/test", methods=["POST"])
@roles_required(*ADMIN)
def settings_autotask_test():
    """Check zone, credentials and ticket rights with the values in the form (the stored secret when none
    is typed); nothing is saved."""
    form = AutotaskSettingsForm()
    current = get_settings()
    secret = form.secret.data
    if not secret:
        try:
            secret = decrypt_secret(current.autotask_secret_encrypted)
        except SecretUnreadable as exc:
            return jsonify({"ok": False, "steps": [{"name": "secret", "ok": False, "message": str(exc)}]})
    lookup_url = form.zone_lookup_url.data or current.autotask_zone_lookup_url
    db.session.commit()
    try:
        client = AutotaskClient(username=form.username.data or "", secret=secret or "",
                                integration_code=form.integration_code.data or "", session=requests.Session(),
                                zone_lookup_base_url=lookup_url, **INTERACTIVE_CLIENT)
    except ValueError as exc:
        return jsonify({"ok": False, "steps": [{"name": "settings", "ok": False, "message": str(exc)}]})
    report = client.test_connection()
    return jsonify({"ok": report.ok,
                    "steps": [{"name": s.name, "ok": s.ok, "message": s.message} for s in report.steps]})


@bp.route("/settings/autotask/picklists", methods=["POST"])
@roles_required(*ADMIN)
def settings_autotask_picklists():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("main.settings_autotask"))
    try:
        client = _client_then_commit(get_settings())
        refresh_autotask_picklists(current_user, client, utcnow())
    except (AutotaskNotConfigured, SecretUnreadable) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    except AutotaskError as exc:
        db.session.rollback()
        flash(f"Refreshing the picklists failed: {exc}", "danger")
    else:
        db.session.commit()
        flash("Picklists refreshed from Autotask.", "success")
    return redirect(url_for("main.settings_autotask"))


@bp.route("/settings/autotask/sync-now", methods=["POST"])
@roles_required(*ADMIN)
def settings_autotask_sync_now():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("main.settings_autotask"))
    run_in_background(current_app._get_current_object(), autotask_sync.TASK_NAME,
                      partial(autotask_sync.run_once, force=True))
    flash("Sync started; reload this page to see the result of the pass.", "info")
    return redirect(url_for("main.settings_autotask"))


# ---- customer to company mapping -------------------------------------------------------------------


@bp.route("/autotask/companies/search", methods=["POST"])
@roles_required(*STAFF)
def autotask_company_search():
    """Companies whose name contains ``q``, as JSON. A POST (with the CSRF token): every search is a
    call against the tenant's hourly API budget, which another site must not be able to spend."""
    text = (request.form.get("q") or "").strip()
    try:
        client = _client_then_commit(get_settings())
        companies = [c for c in client.search_companies(text, limit=COMPANY_SEARCH_LIMIT) if c.id != 0]
    except (AutotaskNotConfigured, SecretUnreadable) as exc:
        db.session.rollback()
        return jsonify({"ok": False, "message": str(exc)}), 400
    except AutotaskError as exc:
        return jsonify({"ok": False, "message": f"The search in Autotask failed: {exc}"}), 502
    mapped: dict[int, list[str]] = {}
    if companies:
        rows = db.session.execute(select(Customer.autotask_company_id, Customer.name)
                                  .where(Customer.autotask_company_id.in_([c.id for c in companies]))
                                  .order_by(Customer.name))
        for company_id, name in rows:
            mapped.setdefault(company_id, []).append(name)
    return jsonify({"ok": True, "companies": [
        {"id": c.id, "name": c.name, "number": c.company_number, "active": c.is_active,
         "mapped_customers": mapped.get(c.id, [])} for c in companies]})


def _get_customer(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _mapping_response(customer_id: int, ok: bool, message: str, status: int = 200):
    if _wants_json():
        customer = db.session.get(Customer, customer_id)
        body: dict[str, Any] = {"ok": ok, "message": message}
        if customer is not None:
            body.update(company_id=customer.autotask_company_id, company_name=customer.autotask_company_name,
                        mapping_status=customer.autotask_mapping_status)
        return jsonify(body), status
    flash(message, "success" if ok else "danger")
    return redirect(_back(url_for("main.customer_edit", customer_id=customer_id)))


@bp.route("/customers/<int:customer_id>/autotask/map", methods=["POST"])
@roles_required(*STAFF)
def customer_autotask_map(customer_id: int):
    _get_customer(customer_id)
    form = AutotaskMapForm()
    if not form.validate_on_submit():
        return _mapping_response(customer_id, False, "Choose an Autotask company to map to.", 400)
    try:
        client = _client_then_commit(get_settings())
        customer = map_customer_via_autotask(current_user, customer_id, form.company_id.data, client)
    except (AutotaskNotConfigured, SecretUnreadable, MappingError) as exc:
        db.session.rollback()
        return _mapping_response(customer_id, False, str(exc), 400)
    except AutotaskError as exc:
        db.session.rollback()
        return _mapping_response(customer_id, False, f"Autotask could not be asked about the company: {exc}", 502)
    db.session.commit()
    return _mapping_response(customer_id, True, f"{customer.name} is mapped to Autotask company "
                                                f"{customer.autotask_company_name}"
                                                f" ({STATUS_LABELS[customer.autotask_mapping_status].lower()}).")


@bp.route("/customers/<int:customer_id>/autotask/unmap", methods=["POST"])
@roles_required(*STAFF)
def customer_autotask_unmap(customer_id: int):
    customer = _get_customer(customer_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    unmap_customer(current_user, customer)
    db.session.commit()
    return _mapping_response(customer_id, True, f"{customer.name} is no longer mapped to an Autotask company.")


@bp.route("/customers/<int:customer_id>/autotask/check", methods=["POST"])
@roles_required(*STAFF)
def customer_autotask_check(customer_id: int):
    customer = _get_customer(customer_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    company_id = customer.autotask_company_id
    if company_id is None:
        return _mapping_response(customer_id, False, f"{customer.name} is not mapped to an Autotask company.", 400)
    try:
        client = _client_then_commit(get_settings())
        check_company_mapping(company_id, client)
    except (AutotaskNotConfigured, SecretUnreadable) as exc:
        db.session.rollback()
        return _mapping_response(customer_id, False, str(exc), 400)
    except AutotaskError as exc:
        db.session.rollback()
        return _mapping_response(customer_id, False, f"Autotask could not be asked about the company: {exc}", 502)
    db.session.commit()
    customer = _get_customer(customer_id)
    status = customer.autotask_mapping_status
    return _mapping_response(customer_id, True, f"Mapping checked: {STATUS_LABELS.get(status, 'not mapped').lower()}.")


# ---- a ticket for a run ----------------------------------------------------------------------------


def _ticket_response(ok: bool, message: str, status: int = 200, **extra: Any):
    if _wants_json():
        return jsonify({"ok": ok, "message": message, **extra}), status
    flash(message, "success" if ok else "danger")
    return redirect(_back(url_for("main.run_checks")))


@bp.route("/run-checks/runs/<int:run_id>/autotask-ticket", methods=["POST"])
@roles_required(*STAFF)
def run_autotask_ticket(run_id: int):
    """Create an Autotask ticket for a run, unless the run or the job already has an open one."""
    run = db.session.get(JobRun, run_id)
    if run is None:
        abort(404)
    job_id = run.job_id
    holder = instance_name()
    try:
        claim_ticket_creation(job_id, holder, utcnow())
    except TicketRefused as exc:
        db.session.commit()
        return _ticket_response(False, exc.message, exc.status)
    try:
        settings = get_settings()
        draft = prepare_autotask_ticket(run, settings)
        client = autotask_client_from_settings(settings, requests.Session(), **INTERACTIVE_CLIENT)
    except (TicketRefused, AutotaskNotConfigured, SecretUnreadable) as exc:
        release_ticket_creation(job_id, holder, utcnow(), "refused")
        db.session.commit()
        if isinstance(exc, TicketRefused):
            extra = {"ticket_id": exc.ticket_id, "ticket_number": exc.ticket_number} if exc.ticket_id else {}
            return _ticket_response(False, exc.message, exc.status, **extra)
        return _ticket_response(False, str(exc), 400)
    db.session.commit()  # the lease is visible to a second click; nothing is open while Autotask works

    try:
        created = client.create_ticket(draft.fields)
    except (AutotaskError, ValueError) as exc:
        message = f"Autotask did not create the ticket: {exc}"
        run = db.session.get(JobRun, run_id)
        if run is not None:
            record_ticket_failure(run, current_user, str(exc))
        release_ticket_creation(job_id, holder, utcnow(), "failed", str(exc))
        db.session.commit()
        return _ticket_response(False, message, 502)

    label = created.ticket_number or f"#{created.id}"
    try:
        run = db.session.get(JobRun, run_id)
        if run is None:
            raise LookupError("the run was deleted while the ticket was created")
        store_created_ticket(run, draft, created, current_user, utcnow())
        release_ticket_creation(job_id, holder, utcnow(), f"created {label}")
        db.session.commit()
    except Exception as exc:
        # The ticket exists in Autotask: say which one, so nobody creates it a second time.
        db.session.rollback()
        log.exception("Autotask ticket %s was created but storing it failed", label)
        record_audit("autotask_ticket_failed", f"Autotask ticket {label} (id {created.id}) was created for run "
                                               f"{run_id}, but storing it here failed: {exc}", current_user)
        release_ticket_creation(job_id, holder, utcnow(), "not stored", str(exc))
        db.session.commit()
        return _ticket_response(False, f"Autotask ticket {label} was created, but storing it here failed ({exc}). "
                                       "Link it to the job by hand; do not create it again.", 500,
                                ticket_id=created.id, ticket_number=created.ticket_number)
    message = f"Autotask ticket {label} created."
    if created.ticket_number is None:
        message += " Its number could not be read back yet; the next sync fills it in."
    return _ticket_response(True, message, ticket_number=created.ticket_number, ticket_id=created.id)
