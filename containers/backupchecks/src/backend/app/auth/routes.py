from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from ..extensions import db, login_manager
from ..models import User
from ..services.users import UserError, authenticate, change_own_password, switch_active_role
from . import bp
from .access import EVERYONE, public, roles_required
from .forms import ChangePasswordForm, LoginForm


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used to send people elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, request.remote_addr or "unknown")
        db.session.commit()
        if result.user is not None:
            login_user(result.user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        flash(result.error, "danger")
        return render_template("auth/login.html", form=form), 401 if "Invalid" in result.error else 429
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@roles_required(*EVERYONE)
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(*EVERYONE)
def profile():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(current_user, form.current_password.data, form.new_password.data)
        except UserError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Your password has been changed.", "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form)


@bp.route("/switch-role", methods=["POST"])
@roles_required(*EVERYONE)
def switch_role():
    try:
        switch_active_role(current_user, request.form.get("role", ""))
    except UserError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("main.home"))
    db.session.commit()
    flash(f"Active role: {current_user.active_role}.", "info")
    # Stay on the page unless the new role may not see it.
    return redirect(url_for("main.home"))
