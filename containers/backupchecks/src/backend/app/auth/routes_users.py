"""User management (admin)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from ..services.users import UserError, create_user, generate_password, reset_password, update_user
from . import bp
from .access import ADMIN, roles_required
from .forms import ResetPasswordForm, UserCreateForm, UserEditForm


def _get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
@roles_required(*ADMIN)
def users():
    rows = db.session.scalars(select(User).order_by(func.lower(User.username))).all()
    return render_template("auth/users.html", users=rows, form=UserCreateForm())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*ADMIN)
def user_create():
    form = UserCreateForm()
    if form.validate_on_submit():
        password = form.password.data or generate_password()
        try:
            user = create_user(current_user, form.username.data, password, form.roles.data, form.email.data)
        except UserError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            if form.password.data:
                flash(f"User {user.username} created.", "success")
            else:
                flash(f"User {user.username} created. Their password is {password} — it is shown only now.",
                      "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(*ADMIN)
def user_edit(user_id: int):
    user = _get_user(user_id)
    form = UserEditForm(obj=None if request.method == "POST" else user)
    if request.method != "POST":
        form.roles.data = user.roles
        form.active.data = user.active
    if form.validate_on_submit():
        try:
            update_user(current_user, user, form.roles.data, form.email.data, form.active.data)
        except UserError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"User {user.username} saved.", "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=user, reset_form=ResetPasswordForm())


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@roles_required(*ADMIN)
def user_reset_password(user_id: int):
    user = _get_user(user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        password = reset_password(current_user, user, form.new_password.data or None)
    except UserError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("auth.user_edit", user_id=user.id))
    db.session.commit()
    if form.new_password.data:
        flash(f"Password of {user.username} reset.", "success")
    else:
        flash(f"Password of {user.username} reset to {password} — it is shown only now.", "success")
    return redirect(url_for("auth.users"))
