"""All models, imported here so Alembic and the app see every table."""

from .audit import AuditLog
from .background import BackgroundTask
from .cove import CoveAccount
from .customers import Customer
from .jobs import RUN_STATUSES, STATUS_SEVERITY, Job, JobRun, job_identity_key
from .mail import MAIL_LOCATIONS, MailMessage, MailObject
from .objects import CustomerObject, JobObjectLink, RunObjectLink
from .overrides import ERROR_MATCH_TYPES, OVERRIDE_LEVELS, Override
from .settings import DEFAULT_UI_TIMEZONE, SystemSettings
from .tickets import LINK_SOURCES, SCOPE_TYPES, Remark, RemarkJobRun, RemarkScope, Ticket, TicketJobRun, TicketScope
from .users import ROLE_LABELS, ROLES, LoginAttempt, User

__all__ = [
    "AuditLog",
    "BackgroundTask",
    "CoveAccount",
    "Customer",
    "CustomerObject",
    "DEFAULT_UI_TIMEZONE",
    "ERROR_MATCH_TYPES",
    "Job",
    "JobObjectLink",
    "JobRun",
    "LoginAttempt",
    "MAIL_LOCATIONS",
    "MailMessage",
    "MailObject",
    "OVERRIDE_LEVELS",
    "Override",
    "ROLES",
    "ROLE_LABELS",
    "RUN_STATUSES",
    "Remark",
    "RemarkJobRun",
    "RemarkScope",
    "RunObjectLink",
    "STATUS_SEVERITY",
    "SCOPE_TYPES",
    "LINK_SOURCES",
    "SystemSettings",
    "Ticket",
    "TicketJobRun",
    "TicketScope",
    "User",
    "job_identity_key",
]
