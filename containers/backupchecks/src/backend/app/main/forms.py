from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


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


class MailImportForm(FlaskForm):
    tenant_id = StringField("Tenant id", validators=[Optional(), Length(max=100)])
    client_id = StringField("Client (application) id", validators=[Optional(), Length(max=100)])
    client_secret = PasswordField("Client secret", validators=[Optional(), Length(max=500)],
                                  description="Stored encrypted and never shown again; leave empty to keep the "
                                              "stored secret.")
    mailbox = StringField("Mailbox", validators=[Optional(), Length(max=255)],
                          description="The shared mailbox the backup products send to, e.g. backups@example.com.")
    source_folder = StringField("Source folder", default="Inbox", validators=[DataRequired(), Length(max=255)],
                                description="Folder to read; a path such as Inbox/Backups for a subfolder.")
    processed_folder = StringField("Processed folder", default="Backupchecks processed",
                                   validators=[DataRequired(), Length(max=255)],
                                   description="Imported mails are moved here after they are stored; created "
                                               "when missing.")
    authority_url = StringField("Authority URL", default="https://login.microsoftonline.com",
                                validators=[DataRequired(), Length(max=255)],
                                description="Other for national clouds, e.g. https://login.microsoftonline.us.")
    graph_base_url = StringField("Graph URL", default="https://graph.microsoft.com",
                                 validators=[DataRequired(), Length(max=255)])
    enabled = BooleanField("Import automatically")
    interval_minutes = IntegerField("Interval (minutes)", default=15,
                                    validators=[InputRequired(), NumberRange(1, 1440)])
    batch_size = IntegerField("Batch size", default=50, validators=[InputRequired(), NumberRange(1, 1000)],
                              description="Messages per Graph page; a pass empties the source folder.")
    submit = SubmitField("Save")
