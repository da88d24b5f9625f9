"""Cove Data Protection: the settings tab, and the Cove Accounts page (create a job, link, unlink)."""

from __future__ import annotations

from functools import partial

import requests
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import ADMIN, STAFF, roles_required
from ..clients.cove import CoveClient
from ..extensions import db
from ..jobs import cove_import
from ..jobs.runner import run_in_background
from ..models import CoveAccount, Customer, Job
from ..services import cove_mapping
from ..services.background import get_task
from ..services.cove_accounts import (
    ACCOUNT_TYPES,
    CoveAccountError,
    account_counts,
    accounts_query,
    create_job_for_cove_account,
    link_cove_account,
    linkable_jobs,
    unlink_cove_account,
)
from ..services.cove_settings import (
    CoveSettingsInput,
    clean_api_url,
    cove_enabled,
    record_partner_id,
    update_cove_settings,
)
from ..services.customers import CustomerError, create_customer, find_customer_by_name
from ..services.secrets import SecretUnreadable, decrypt_secret, secret_readable
from ..services.settings import get_settings
from . import bp
from .forms import ConfirmForm, CoveLinkForm, CoveSettingsForm
from .pagination import paginate

ACCOUNTS_PER_PAGE = 50


@bp.app_context_processor
def _cove_navbar() -> dict:
    # A function, so the settings are read only by pages whose user may open Cove Accounts.
    return {"cove_enabled": cove_enabled}


# ---- settings -----------------------------------------------------------------------------------


def _settings_input(form: CoveSettingsForm) -> CoveSettingsInput:
    return CoveSettingsInput(
        enabled=bool(form.enabled.data), api_url=form.api_url.data or "", username=form.username.data or "",
        password=form.password.data or None, import_enabled=bool(form.import_enabled.data),
        interval_minutes=form.interval_minutes.data or 0,
        offline_detection_enabled=bool(form.offline_detection_enabled.data),
        offline_warning_days=form.offline_warning_days.data or 0,
        offline_failed_days=form.offline_failed_days.data or 0)


@bp.route("/settings/cove", methods=["GET", "POST"])
@roles_required(*ADMIN)
def settings_cove():
    current = get_settings()
    stored = {"enabled": current.cove_enabled, "api_url": current.cove_api_url,
              "username": current.cove_api_username, "import_enabled": current.cove_import_enabled,
              "interval_minutes": current.cove_import_interval_minutes,
              "offline_detection_enabled": current.cove_offline_detection_enabled,
              "offline_warning_days": current.cove_offline_warning_days,
              "offline_failed_days": current.cove_offline_failed_days}
    form = CoveSettingsForm() if request.method == "POST" else CoveSettingsForm(data=stored)
    if form.validate_on_submit():
        try:
            update_cove_settings(current_user, _settings_input(form))
        except ValueError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Cove settings saved.", "success")
            return redirect(url_for("main.settings_cove"))
    password_stored = bool(current.cove_api_password_encrypted)
    password_readable = secret_readable(current.cove_api_password_encrypted)
    task = get_task(cove_import.TASK_NAME)
    db.session.commit()
    return render_template("main/settings_cove.html", form=form, tab="cove", settings=current,
                           password_stored=password_stored, password_readable=password_readable, task=task,
                           confirm_form=ConfirmForm())


@bp.route("/settings/cove/test-connection", methods=["POST"])
@roles_required(*ADMIN)
def settings_cove_test():
    """Log in with the values in the form (the stored password when none is typed); save the partner id."""
    form = CoveSettingsForm()
    current = get_settings()
    password = form.password.data
    try:
        api_url = clean_api_url(form.api_url.data or current.cove_api_url)
        if not password:
            password = decrypt_secret(current.cove_api_password_encrypted)
    except (ValueError, SecretUnreadable) as exc:
        return jsonify({"ok": False, "partner_id": None, "message": str(exc)})
    username = form.username.data or ""
    # No transaction stays open (SQLite would hold its write lock) while Cove is asked.
    db.session.commit()
    session = requests.Session()
    try:
        client = CoveClient(api_url=api_url, username=username, password=password or "", session=session,
                            timeout=15, max_attempts=2)
        ok, partner_id, message = client.test_connection()
    finally:
        session.close()
    if ok and partner_id is not None:
        record_partner_id(partner_id)
        db.session.commit()
    return jsonify({"ok": ok, "partner_id": partner_id, "message": message})


@bp.route("/settings/cove/run-now", methods=["POST"])
@roles_required(*ADMIN)
def settings_cove_run_now():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("main.settings_cove"))
    if not get_settings().cove_enabled:
        flash("Enable Cove Data Protection and save the settings first.", "warning")
        return redirect(url_for("main.settings_cove"))
    db.session.commit()
    run_in_background(current_app._get_current_object(), cove_import.TASK_NAME,
                      partial(cove_import.run_once, force=True))
    flash("Cove import started; reload this page to see the result of the pass.", "info")
    return redirect(url_for("main.settings_cove"))


# ---- accounts -----------------------------------------------------------------------------------


def _return_to() -> str:
    target = request.form.get("return_to") or ""
    # Only back to this page: never an address from the form elsewhere.
    if target.startswith("/cove/accounts") and "//" not in target and "\\" not in target:
        return target
    return url_for("main.cove_accounts")


@bp.route("/cove/accounts")
@roles_required(*STAFF)
def cove_accounts():
    view = "matched" if request.args.get("view") == "matched" else "unmatched"
    q = request.args.get("q", "").strip()
    account_type = request.args.get("type", "")
    if account_type not in ACCOUNT_TYPES:
        account_type = ""
    page = paginate(accounts_query(view == "matched", q, account_type), per_page=ACCOUNTS_PER_PAGE,
                    scalars=view == "unmatched")
    unmatched_count, matched_count = account_counts()
    customers: list[Customer] = []
    jobs: list = []
    if view == "unmatched":
        customers = list(db.session.scalars(select(Customer).where(Customer.active.is_(True))
                                            .order_by(func.lower(Customer.name))))
        jobs = linkable_jobs()
    task = get_task(cove_import.TASK_NAME)
    db.session.commit()
    return render_template("main/cove_accounts.html", view=view, page=page, q=q, account_type=account_type,
                           account_types=ACCOUNT_TYPES, unmatched_count=unmatched_count,
                           matched_count=matched_count, customers=customers, jobs=jobs, task=task,
                           enabled=get_settings().cove_enabled, mapping=cove_mapping)


def _get_account(account_id: int) -> CoveAccount:
    account = db.session.get(CoveAccount, account_id)
    if account is None:
        abort(404)
    return account


def _customer_for_new_job(form: CoveLinkForm) -> Customer:
    new_name = (form.new_customer_name.data or "").strip()
    if new_name:
        return find_customer_by_name(new_name) or create_customer(current_user, new_name)
    customer = db.session.get(Customer, form.customer_id.data or 0)
    if customer is None:
        raise CoveAccountError("Choose a customer, or type the name of a new one.")
    return customer


@bp.route("/cove/accounts/<int:account_id>/link", methods=["POST"])
@roles_required(*STAFF)
def cove_account_link(account_id: int):
    account = _get_account(account_id)
    form = CoveLinkForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()), "danger")
        return redirect(_return_to())
    try:
        if form.action.data == "create":
            result = create_job_for_cove_account(current_user, account, _customer_for_new_job(form))
        else:
            job = db.session.get(Job, form.job_id.data or 0)
            if job is None:
                raise CoveAccountError("Choose the job to link the account to.")
            result = link_cove_account(current_user, account, job)
    except (CoveAccountError, CustomerError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(_return_to())
    job = result.job
    db.session.commit()
    if result.job_created:
        message = f"Job {job.job_name} created for {job.customer.name} and linked"
    else:
        message = f"Cove account linked to job {job.job_name} ({job.customer.name})"
    flash(f"{message}; {len(result.runs)} run(s) imported.", "success")
    for error in result.errors:
        flash(f"Import of the account's last session failed: {error}", "warning")
    return redirect(_return_to())


@bp.route("/cove/accounts/<int:account_id>/unlink", methods=["POST"])
@roles_required(*STAFF)
def cove_account_unlink(account_id: int):
    account = _get_account(account_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(_return_to())
    try:
        job = unlink_cove_account(current_user, account)
    except CoveAccountError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(_return_to())
    db.session.commit()
    flash(f"Cove account {account.account_name or account.account_id} unlinked from job {job.job_name}; "
          "the job keeps its runs.", "success")
    return redirect(_return_to())
