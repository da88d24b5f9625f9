"""The Inbox: mails waiting for a person, and the deleted mails."""

from __future__ import annotations

import mimetypes
import re
from functools import partial

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..auth.access import ADMIN, STAFF, roles_required
from ..extensions import db
from ..jobs import reparse as reparse_job
from ..jobs.runner import run_in_background
from ..models import Customer, MailMessage
from ..services.background import get_task
from ..services.customers import CustomerError, create_customer, find_customer_by_name
from ..services.inbox import (
    InboxError,
    approve_inbox_mail,
    approve_inbox_mails,
    delete_mails,
    purge_mails,
    reparse_mail,
    restore_mails,
    suggest_customer,
)
from ..services.mail_ingest import attachments_of, ingest_message
from . import bp
from .forms import ConfirmForm
from .pagination import paginate

MAX_UPLOAD_FILES = 200
# The mail's HTML is hostile: it runs in a sandboxed iframe with no scripts and a unique origin,
# and this policy additionally blocks every fetch it might attempt (tracking pixels included).
MAIL_BODY_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def _get_mail(mail_id: int) -> MailMessage:
    mail = db.session.get(MailMessage, mail_id)
    if mail is None:
        abort(404)
    return mail


def _selected_mails(location: str) -> list[MailMessage]:
    ids = [int(i) for i in request.form.getlist("mail_ids") if i.isdigit()]
    if not ids:
        return []
    return list(db.session.scalars(select(MailMessage).where(MailMessage.id.in_(ids),
                                                             MailMessage.location == location)))


def _customer_from_form() -> Customer:
    """The chosen customer, or a new one when a name was typed instead."""
    new_name = (request.form.get("new_customer_name") or "").strip()
    if new_name:
        existing = find_customer_by_name(new_name)
        return existing or create_customer(current_user, new_name)
    customer = db.session.get(Customer, request.form.get("customer_id", type=int) or 0)
    if customer is None:
        raise InboxError("Choose a customer, or type the name of a new one.")
    return customer


def _customers() -> list:
    """(id, name) rows of the active customers, for the approve select."""
    return db.session.execute(select(Customer.id, Customer.name).where(Customer.active.is_(True))
                              .order_by(func.lower(Customer.name))).all()


@bp.route("/inbox")
@roles_required(*STAFF)
def inbox():
    # The re-parse task row may be created here; commit it before the page's rows are read, so the
    # commit does not expire them (which would reload every mail of the page one by one).
    reparse_task = get_task("reparse_inbox")
    db.session.commit()
    status = request.args.get("status", "")
    software = request.args.get("software", "")
    q = request.args.get("q", "").strip()
    # Only the listed columns: the bodies and the raw MIME stay in the database until a mail is opened.
    query = select(MailMessage.id, MailMessage.received_at, MailMessage.from_address, MailMessage.subject,
                   MailMessage.backup_software, MailMessage.backup_type, MailMessage.job_name,
                   MailMessage.overall_status, MailMessage.informational, MailMessage.parse_error
                   ).where(MailMessage.location == "inbox")
    if status == "parsed":
        query = query.where(MailMessage.parser_key.is_not(None), MailMessage.parse_error.is_(None))
    elif status == "unparsed":
        query = query.where(MailMessage.parse_error.is_not(None))
    if software:
        query = query.where(MailMessage.backup_software == software)
    if q:
        like = f"%{q}%"
        query = query.where(or_(MailMessage.from_address.ilike(like), MailMessage.subject.ilike(like)))
    page = paginate(query.order_by(MailMessage.received_at.desc(), MailMessage.id.desc()), per_page=50,
                    scalars=False)
    softwares = db.session.scalars(select(MailMessage.backup_software).distinct()
                                   .where(MailMessage.location == "inbox", MailMessage.backup_software.is_not(None))
                                   .order_by(MailMessage.backup_software)).all()
    return render_template("main/inbox.html", page=page, status=status, software=software, q=q, softwares=softwares,
                           customers=_customers(), confirm_form=ConfirmForm(), reparse_task=reparse_task)


@bp.route("/inbox/<int:mail_id>")
@roles_required(*STAFF)
def inbox_mail(mail_id: int):
    """The mail's details, as a fragment for the modal."""
    mail = _get_mail(mail_id)
    suggestion = suggest_customer(mail) if mail.location == "inbox" and mail.parsed else None
    return render_template("main/inbox_mail.html", mail=mail, attachments=attachments_of(mail),
                           suggestion=suggestion, customers=_customers(), confirm_form=ConfirmForm())


@bp.route("/inbox/<int:mail_id>/body")
@roles_required(*STAFF)
def inbox_mail_body(mail_id: int):
    mail = _get_mail(mail_id)
    if mail.html_body:
        body, mimetype = mail.html_body, "text/html"
    else:
        body, mimetype = mail.text_body or "", "text/plain"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = MAIL_BODY_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _download_name(text: str, default: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", text).strip(" ._")[:80]
    return cleaned or default


@bp.route("/inbox/<int:mail_id>/eml")
@roles_required(*STAFF)
def inbox_mail_eml(mail_id: int):
    mail = _get_mail(mail_id)
    if not mail.raw_mime:
        abort(404)
    name = _download_name(mail.subject or "", f"mail-{mail.id}")
    return Response(mail.raw_mime, mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{name}.eml"'})


@bp.route("/inbox/<int:mail_id>/attachments/<int:index>")
@roles_required(*STAFF)
def inbox_mail_attachment(mail_id: int, index: int):
    attachments = attachments_of(_get_mail(mail_id))
    if not 0 <= index < len(attachments):
        abort(404)
    attachment = attachments[index]
    name = _download_name(attachment.filename or "", f"attachment-{index + 1}")
    mimetype = attachment.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    # Always a download: an attached HTML file must never render in our origin.
    return Response(attachment.data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff"})


@bp.route("/inbox/<int:mail_id>/approve", methods=["POST"])
@roles_required(*STAFF)
def inbox_approve(mail_id: int):
    mail = _get_mail(mail_id)
    try:
        result = approve_inbox_mail(current_user, mail, _customer_from_form())
    except (InboxError, CustomerError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("main.inbox"))
    db.session.commit()
    flash(f"Job {result.job.job_name} {'created' if result.job_created else 'found'} for {result.job.customer.name}: "
          f"{result.runs_created} mail(s) became runs.", "success")
    return redirect(request.form.get("next") or url_for("main.inbox"))


@bp.route("/inbox/approve", methods=["POST"])
@roles_required(*STAFF)
def inbox_approve_bulk():
    mails = _selected_mails("inbox")
    if not mails:
        flash("Select one or more mails first.", "warning")
        return redirect(url_for("main.inbox"))
    unparsed = [m for m in mails if not m.parsed]
    if unparsed:
        flash(f"{len(unparsed)} selected mail(s) are not parsed and cannot be approved; deselect them first.",
              "danger")
        return redirect(url_for("main.inbox"))
    try:
        results = approve_inbox_mails(current_user, mails, _customer_from_form())
    except (InboxError, CustomerError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("main.inbox"))
    db.session.commit()
    flash(f"{len(results)} job(s) approved; {sum(r.runs_created for r in results)} mail(s) became runs.", "success")
    return redirect(url_for("main.inbox"))


@bp.route("/inbox/delete", methods=["POST"])
@roles_required(*STAFF)
def inbox_delete():
    count = delete_mails(current_user, _selected_mails("inbox"))
    db.session.commit()
    flash(f"{count} mail(s) deleted." if count else "Select one or more mails first.",
          "success" if count else "warning")
    return redirect(request.form.get("next") or url_for("main.inbox"))


@bp.route("/inbox/<int:mail_id>/reparse", methods=["POST"])
@roles_required(*STAFF)
def inbox_reparse(mail_id: int):
    mail = _get_mail(mail_id)
    became_run = reparse_mail(mail)
    db.session.commit()
    if became_run:
        flash("Re-parsed: the mail belongs to a known job and became a run.", "success")
    elif mail.parsed:
        flash(f"Re-parsed with {mail.parser_key}: still waiting for approval.", "info")
    else:
        flash(f"Re-parsed: {mail.parse_error}", "warning")
    return redirect(url_for("main.inbox"))


@bp.route("/inbox/reparse-all", methods=["POST"])
@roles_required(*STAFF)
def inbox_reparse_all():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_in_background(current_app._get_current_object(), "reparse_inbox",
                      partial(reparse_job.run_once, actor_username=current_user.username))
    flash("Re-parsing every Inbox mail in the background; the progress shows below.", "info")
    return redirect(url_for("main.inbox"))


@bp.route("/inbox/reparse-status")
@roles_required(*STAFF)
def inbox_reparse_status():
    task = get_task("reparse_inbox")
    db.session.commit()
    return jsonify({"running": task.lease_holder is not None, "done": task.progress_done,
                    "total": task.progress_total, "status": task.last_status, "summary": task.last_summary,
                    "error": task.last_error})


@bp.route("/inbox/upload", methods=["POST"])
@roles_required(*STAFF)
def inbox_upload():
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        flash("Choose one or more .eml files.", "warning")
        return redirect(url_for("main.inbox"))
    if len(files) > MAX_UPLOAD_FILES:
        flash(f"At most {MAX_UPLOAD_FILES} files at once.", "danger")
        return redirect(url_for("main.inbox"))
    stored = duplicates = runs = 0
    for upload in files:
        result = ingest_message(upload.read())
        db.session.commit()
        stored += result.created
        duplicates += not result.created
        runs += result.run is not None
    flash(f"{len(files)} file(s) uploaded: {stored} new mail(s), {runs} became runs of known jobs, "
          f"{duplicates} already stored.", "success")
    return redirect(url_for("main.inbox"))


@bp.route("/inbox/deleted")
@roles_required(*ADMIN)
def inbox_deleted():
    query = (select(MailMessage).where(MailMessage.location == "deleted")
             .order_by(MailMessage.deleted_at.desc(), MailMessage.id.desc()))
    return render_template("main/inbox_deleted.html", page=paginate(query, per_page=50), confirm_form=ConfirmForm())


@bp.route("/inbox/deleted/restore", methods=["POST"])
@roles_required(*ADMIN)
def inbox_restore():
    count = restore_mails(current_user, _selected_mails("deleted"))
    db.session.commit()
    flash(f"{count} mail(s) restored." if count else "Select one or more mails first.",
          "success" if count else "warning")
    return redirect(url_for("main.inbox_deleted"))


@bp.route("/inbox/deleted/purge", methods=["POST"])
@roles_required(*ADMIN)
def inbox_purge():
    try:
        count = purge_mails(current_user, _selected_mails("deleted"))
    except InboxError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("main.inbox_deleted"))
    db.session.commit()
    flash(f"{count} mail(s) permanently deleted." if count else "Select one or more mails first.",
          "success" if count else "warning")
    return redirect(url_for("main.inbox_deleted"))
