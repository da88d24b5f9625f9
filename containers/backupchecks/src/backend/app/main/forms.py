from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
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
    missed_grace_minutes = IntegerField(
        "Grace before a run counts as missed (minutes)", default=60, validators=[InputRequired(), NumberRange(0, 1440)],
        description="After a slot's tolerance window, wait this long for a late run before reporting it missed.")
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


class OverrideForm(FlaskForm):
    level = SelectField("Level", choices=[SelectChoice("global", "Global: across all jobs"),
                                          SelectChoice("object", "Object: one job, or one object of a job")])
    job_id = IntegerField("Job", validators=[Optional()])
    object_name = StringField("Object", validators=[Optional(), Length(max=512)],
                              description="Object level: one object (VM, machine, share) by name; "
                                          "empty for the whole job.")
    backup_software = StringField("Backup software", validators=[Optional(), Length(max=100)],
                                  description="Global: empty matches any.")
    backup_type = StringField("Backup type", validators=[Optional(), Length(max=100)],
                              description="Global: empty matches any.")
    status_match = SelectField("Status", choices=[SelectChoice("", "Any status"), SelectChoice("failed", "Failed"),
                                                  SelectChoice("warning", "Warning"), SelectChoice("missed", "Missed")])
    error_text = TextAreaField("Error text", validators=[Optional(), Length(max=5000)],
                               description="Empty matches any error.")
    error_match = SelectField("Error text match", choices=[
        SelectChoice("contains", "contains (ignoring case)"), SelectChoice("exact", "is exactly"),
        SelectChoice("starts", "starts with"), SelectChoice("ends", "ends with")])
    valid_from = DateField("From", validators=[Optional()])
    valid_until = DateField("Until", validators=[Optional()])
    active = BooleanField("Active", default=True)
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=5000)],
                            description="Why this problem is accepted, e.g. a ticket number.")
    submit = SubmitField("Save")


WEEKDAY_CHOICES = [SelectChoice(str(i), name) for i, name in
                   enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))]


class ScheduleForm(FlaskForm):
    mode = SelectField("Schedule", choices=[SelectChoice("learned", "Learned from the runs"),
                                            SelectChoice("manual", "Set by hand"),
                                            SelectChoice("none", "No schedule (nothing expected)")])
    kind = SelectField("Kind", choices=[SelectChoice("daily", "Daily"), SelectChoice("weekly", "Weekly"),
                                        SelectChoice("monthly", "Monthly"),
                                        SelectChoice("intraday", "Several times a day")])
    weekdays = SelectMultipleField("Weekdays", choices=WEEKDAY_CHOICES, validators=[Optional()],
                                   description="Daily and intraday: empty means every day.")
    days_of_month = StringField("Days of the month", validators=[Optional(), Length(max=100)],
                                description="Monthly: e.g. 1, 15 or last.")
    times = StringField("Times", validators=[Optional(), Length(max=400)],
                        description="Local times HH:MM, separated by commas, e.g. 22:00 or 00:00, 06:00, 18:00.")
    tolerance_minutes = IntegerField("Tolerance (minutes)", default=30, validators=[Optional(), NumberRange(5, 720)])
    submit = SubmitField("Save schedule")


class PauseForm(FlaskForm):
    paused_until = DateField("Paused until (inclusive)", validators=[Optional()],
                             description="Maintenance: nothing is expected or missed until then. Empty resumes.")
    submit = SubmitField("Save")


SCOPE_CHOICES = [SelectChoice("job", "A job"), SelectChoice("customer", "A customer (all its jobs)"),
                 SelectChoice("software", "A backup software and type"),
                 SelectChoice("object", "One object of a job")]


class ScopeForm(FlaskForm):
    """What a ticket or remark is about; the fields that apply to the chosen scope type are used."""

    scope_type = SelectField("About", choices=SCOPE_CHOICES)
    customer_id = IntegerField("Customer", validators=[Optional()])
    job_id = IntegerField("Job", validators=[Optional()])
    backup_software = StringField("Backup software", validators=[Optional(), Length(max=100)])
    backup_type = StringField("Backup type", validators=[Optional(), Length(max=100)],
                              description="Empty: every type of that software.")
    customer_object_id = IntegerField("Object", validators=[Optional()])
    submit = SubmitField("Add scope")


class TicketForm(FlaskForm):
    ticket_code = StringField("Ticket code", validators=[Optional(), Length(max=64)],
                              description="The PSA ticket number, e.g. T20260123.0001; empty: an internal number "
                                          "such as BC20260123.0001.")
    description = TextAreaField("Description", validators=[Optional(), Length(max=10000)])
    active_from_date = DateField("Active from", validators=[Optional()],
                                 description="Runs of this day and later show the ticket; empty: today.")
    start_date = DateField("Problem started on", validators=[Optional()])
    submit = SubmitField("Save")


class RemarkForm(FlaskForm):
    body = TextAreaField("Remark", validators=[DataRequired(), Length(max=10000)])
    active_from_date = DateField("Active from", validators=[Optional()], description="Empty: today.")
    active_until_date = DateField("Active until (inclusive)", validators=[Optional()],
                                  description="Empty: until it is resolved.")
    submit = SubmitField("Save")


def _optional_int(value) -> int | None:
    """Select values as ints, with "" (nothing chosen) as None."""
    if value is None or value == "":
        return None
    return int(value)


class AutotaskSettingsForm(FlaskForm):
    enabled = BooleanField("Autotask enabled",
                           description="Create tickets from Run Checks and keep them in step with Autotask.")
    username = StringField("API username", validators=[Optional(), Length(max=255)],
                           description="An API-only user (Autotask: Admin → Resources, security level API User); "
                                       "its zone is looked up from it.")
    secret = PasswordField("Secret", validators=[Optional(), Length(max=500)],
                           description="Stored encrypted and never shown again; leave empty to keep the stored "
                                       "secret.")
    integration_code = StringField("API integration code", validators=[Optional(), Length(max=255)],
                                   description="The API tracking identifier of the API user.")
    zone_lookup_url = StringField("Zone lookup URL", default="https://webservices.autotask.net/atservicesrest",
                                  validators=[DataRequired(), Length(max=255)],
                                  description="Where the zone of the API user is asked; any zone answers.")
    default_queue_id = SelectField("Default queue", coerce=_optional_int, choices=[])
    default_priority = SelectField("Default priority", coerce=_optional_int, choices=[])
    default_status = SelectField("Default status", coerce=_optional_int, choices=[],
                                 description="The status of a new ticket, usually New.")
    default_issue_type = SelectField("Default issue type", coerce=_optional_int, choices=[])
    default_source = SelectField("Default source", coerce=_optional_int, choices=[])
    sync_enabled = BooleanField("Sync with Autotask",
                                description="Resolve tickets completed in Autotask, notice deleted tickets and check "
                                            "the customers' company mappings.")
    sync_interval_minutes = IntegerField("Sync interval (minutes)", default=15,
                                         validators=[InputRequired(), NumberRange(1, 1440)])
    submit = SubmitField("Save")


class AutotaskMapForm(FlaskForm):
    company_id = IntegerField("Autotask company id", validators=[InputRequired(), NumberRange(min=0)])
    submit = SubmitField("Map")


class NewTicketForm(TicketForm, ScopeForm):
    """A new ticket starts with one scope; more are added on its page."""


class NewRemarkForm(RemarkForm, ScopeForm):
    """A new remark starts with one scope; more are added on its page."""


class CoveSettingsForm(FlaskForm):
    enabled = BooleanField("Cove Data Protection enabled",
                           description="Shows Cove Accounts in the navbar and lets the import run.")
    api_url = StringField("API URL", default="https://api.backup.management/jsonapi",
                          validators=[DataRequired(), Length(max=255)],
                          description="Cove's JSON-RPC endpoint; https (plain http only for localhost).")
    username = StringField("API username", validators=[Optional(), Length(max=255)],
                           description="An API user (Cove Management Console: Users → API Users).")
    password = PasswordField("Password or API token", validators=[Optional(), Length(max=500)],
                             description="Stored encrypted and never shown again; leave empty to keep the stored "
                                         "password.")
    import_enabled = BooleanField("Import automatically")
    interval_minutes = IntegerField("Interval (minutes)", default=30,
                                    validators=[InputRequired(), NumberRange(5, 1440)])
    offline_detection_enabled = BooleanField(
        "Offline detection for workstations",
        description="Workstations get no missed runs; with this on, a linked workstation whose 28-day colour bar "
                    "shows no session for the given days gets one warning run, later one failed run.")
    offline_warning_days = IntegerField("Warning after (days)", default=3,
                                        validators=[InputRequired(), NumberRange(1, 27)])
    offline_failed_days = IntegerField("Failed after (days)", default=7,
                                       validators=[InputRequired(), NumberRange(2, 28)])
    submit = SubmitField("Save")


class CoveLinkForm(FlaskForm):
    """Create a job for a Cove account (choose or name a customer), or link it to an existing job."""

    action = SelectField("Action", choices=[SelectChoice("create", "Create new job"),
                                            SelectChoice("link", "Link to existing job")])
    customer_id = IntegerField("Customer", validators=[Optional()])
    new_customer_name = StringField("New customer", validators=[Optional(), Length(max=255)])
    job_id = IntegerField("Job", validators=[Optional()])
