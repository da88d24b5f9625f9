from __future__ import annotations

from functools import partial

import requests
from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.access import ADMIN, roles_required
from ..clients.graph import GraphClient
from ..extensions import db
from ..jobs import mail_import
from ..jobs.runner import run_in_background
from ..services.background import get_task
from ..services.secrets import SecretUnreadable, decrypt_secret, secret_readable
from ..services.settings import (
    MailImportSettingsInput,
    get_settings,
    timezone_choices,
    update_general_settings,
    update_mail_import_settings,
)
from . import bp
from .forms import ConfirmForm, GeneralSettingsForm, MailImportForm


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(*ADMIN)
def settings():
    current = get_settings()
    form = GeneralSettingsForm(data={"ui_timezone": current.ui_timezone,
                                     "missed_grace_minutes": current.missed_grace_minutes})
    form.ui_timezone.choices = timezone_choices()
    if form.validate_on_submit():
        try:
            update_general_settings(current_user, form.ui_timezone.data, form.missed_grace_minutes.data)
        except ValueError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Settings saved.", "success")
            return redirect(url_for("main.settings"))
    return render_template("main/settings.html", form=form, tab="general")


def _mail_form_input(form: MailImportForm) -> MailImportSettingsInput:
    return MailImportSettingsInput(
        tenant_id=form.tenant_id.data or "", client_id=form.client_id.data or "",
        client_secret=form.client_secret.data or None, mailbox=form.mailbox.data or "",
        source_folder=form.source_folder.data or "", processed_folder=form.processed_folder.data or "",
        authority_url=form.authority_url.data or "", graph_base_url=form.graph_base_url.data or "",
        enabled=bool(form.enabled.data), interval_minutes=form.interval_minutes.data or 0,
        batch_size=form.batch_size.data or 0)


@bp.route("/settings/mail", methods=["GET", "POST"])
@roles_required(*ADMIN)
def settings_mail():
    current = get_settings()
    stored = {"tenant_id": current.graph_tenant_id, "client_id": current.graph_client_id,
              "mailbox": current.graph_mailbox, "source_folder": current.graph_source_folder,
              "processed_folder": current.graph_processed_folder, "authority_url": current.graph_authority_url,
              "graph_base_url": current.graph_base_url, "enabled": current.mail_import_enabled,
              "interval_minutes": current.mail_import_interval_minutes,
              "batch_size": current.mail_import_batch_size}
    form = MailImportForm() if request.method == "POST" else MailImportForm(data=stored)
    if form.validate_on_submit():
        try:
            update_mail_import_settings(current_user, _mail_form_input(form))
        except ValueError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Mail import settings saved.", "success")
            return redirect(url_for("main.settings_mail"))
    secret_stored = bool(current.graph_client_secret_encrypted)
    readable = secret_readable(current.graph_client_secret_encrypted)
    task = get_task(mail_import.TASK_NAME)
    db.session.commit()
    return render_template("main/settings_mail.html", form=form, tab="mail", secret_stored=secret_stored,
                           secret_readable=readable, task=task, confirm_form=ConfirmForm())


@bp.route("/settings/mail/test", methods=["POST"])
@roles_required(*ADMIN)
def settings_mail_test():
    """Check token, mailbox and folders with the values in the form (the stored secret when none is typed)."""
    form = MailImportForm()
    current = get_settings()
    secret = form.client_secret.data
    if not secret:
        try:
            secret = decrypt_secret(current.graph_client_secret_encrypted)
        except SecretUnreadable as exc:
            return jsonify({"ok": False, "steps": [{"name": "secret", "ok": False, "message": str(exc)}]})
    client = GraphClient(tenant_id=form.tenant_id.data or "", client_id=form.client_id.data or "",
                         client_secret=secret or "", mailbox=form.mailbox.data or "", session=requests.Session(),
                         authority_base_url=form.authority_url.data or current.graph_authority_url,
                         graph_base_url=form.graph_base_url.data or current.graph_base_url, timeout=15,
                         max_attempts=2)
    try:
        report = client.test_connection(form.source_folder.data or "Inbox",
                                        form.processed_folder.data or current.graph_processed_folder)
    except ValueError as exc:
        return jsonify({"ok": False, "steps": [{"name": "settings", "ok": False, "message": str(exc)}]})
    return jsonify({"ok": report.ok,
                    "steps": [{"name": s.name, "ok": s.ok, "message": s.message} for s in report.steps]})


@bp.route("/settings/mail/import-now", methods=["POST"])
@roles_required(*ADMIN)
def settings_mail_import_now():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("main.settings_mail"))
    run_in_background(current_app._get_current_object(), mail_import.TASK_NAME,
                      partial(mail_import.run_once, force=True))
    flash("Import started; reload this page to see the result of the pass.", "info")
    return redirect(url_for("main.settings_mail"))
