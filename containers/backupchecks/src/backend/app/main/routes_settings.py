from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..auth.access import ADMIN, roles_required
from ..extensions import db
from ..services.settings import get_settings, timezone_choices, update_general_settings
from . import bp
from .forms import GeneralSettingsForm


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(*ADMIN)
def settings():
    current = get_settings()
    form = GeneralSettingsForm(data={"ui_timezone": current.ui_timezone})
    form.ui_timezone.choices = timezone_choices()
    if form.validate_on_submit():
        try:
            update_general_settings(current_user, form.ui_timezone.data)
        except ValueError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Settings saved.", "success")
            return redirect(url_for("main.settings"))
    return render_template("main/settings.html", form=form, tab="general")
