from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import ROLE_LABELS, ROLES

ROLE_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")
    submit = SubmitField("Log in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField("Repeat new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")])
    submit = SubmitField("Change password")


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    email = EmailField("E-mail", validators=[Optional(), Length(max=255)])
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES, validators=[DataRequired("Choose at least one role.")])
    password = PasswordField("Password", description="Leave empty to generate one; it is shown once.",
                             validators=[Optional()])
    submit = SubmitField("Create user")


class UserEditForm(FlaskForm):
    email = EmailField("E-mail", validators=[Optional(), Length(max=255)])
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES, validators=[DataRequired("Choose at least one role.")])
    active = BooleanField("Active (may log in)")
    submit = SubmitField("Save")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", description="Leave empty to generate one; it is shown once.",
                                 validators=[Optional()])
    submit = SubmitField("Reset password")
