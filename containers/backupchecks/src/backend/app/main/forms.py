from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class CustomerForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    active = BooleanField("Active", default=True)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save")


class CustomerImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired()])
    submit = SubmitField("Import")


class GeneralSettingsForm(FlaskForm):
    ui_timezone = SelectField("UI timezone", validators=[DataRequired()])
    submit = SubmitField("Save")


class ConfirmForm(FlaskForm):
    """An empty form: just the CSRF token, for POST buttons."""
