"""Overrides: list, create, edit; delete for admins."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import ADMIN, STAFF, roles_required
from ..extensions import db
from ..models import Customer, Job, Override
from ..services.overrides import OverrideError, OverrideInput, create_override, delete_override, update_override
from . import bp
from .forms import ConfirmForm, OverrideForm


def _job_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Job.id, Customer.name, Job.job_name, Job.backup_software).join(Customer, Customer.id == Job.customer_id)
        .where(Job.deleted_at.is_(None)).order_by(func.lower(Customer.name), func.lower(Job.job_name))).all()
    return [(row.id, f"{row.name} · {row.job_name} ({row.backup_software})") for row in rows]


def _input(form: OverrideForm) -> OverrideInput:
    return OverrideInput(level=form.level.data, job_id=form.job_id.data, object_name=form.object_name.data,
                         backup_software=form.backup_software.data, backup_type=form.backup_type.data,
                         status_match=form.status_match.data or None, error_text=form.error_text.data,
                         error_match=form.error_match.data, valid_from=form.valid_from.data,
                         valid_until=form.valid_until.data, active=form.active.data, comment=form.comment.data)


@bp.route("/overrides")
@roles_required(*STAFF)
def overrides():
    show = request.args.get("show", "active")
    query = select(Override).order_by(Override.level.desc(), Override.id.desc())
    if show == "active":
        query = query.where(Override.active.is_(True))
    elif show == "inactive":
        query = query.where(Override.active.is_(False))
    return render_template("main/overrides.html", overrides=db.session.scalars(query).all(), show=show,
                           confirm_form=ConfirmForm())


@bp.route("/overrides/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def override_create():
    form = OverrideForm()
    if request.method == "GET" and request.args.get("job_id", type=int):
        form.level.data, form.job_id.data = "object", request.args.get("job_id", type=int)
    if form.validate_on_submit():
        try:
            override, changed = create_override(current_user, _input(form))
        except OverrideError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Override #{override.id} created; {changed} unreviewed run(s) changed.", "success")
            return redirect(url_for("main.overrides"))
    return render_template("main/override_form.html", form=form, override=None, jobs=_job_choices())


@bp.route("/overrides/<int:override_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF)
def override_edit(override_id: int):
    override = db.session.get(Override, override_id) or abort(404)
    form = OverrideForm(obj=override)
    if form.validate_on_submit():
        try:
            changed = update_override(current_user, override, _input(form))
        except OverrideError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Override #{override.id} saved; {changed} unreviewed run(s) changed.", "success")
            return redirect(url_for("main.overrides"))
    return render_template("main/override_form.html", form=form, override=override, jobs=_job_choices(),
                           confirm_form=ConfirmForm())


@bp.route("/overrides/<int:override_id>/delete", methods=["POST"])
@roles_required(*ADMIN)
def override_delete(override_id: int):
    override = db.session.get(Override, override_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    changed = delete_override(current_user, override)
    db.session.commit()
    flash(f"Override deleted; {changed} unreviewed run(s) changed.", "success")
    return redirect(url_for("main.overrides"))
