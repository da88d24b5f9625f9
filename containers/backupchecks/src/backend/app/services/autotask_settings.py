"""Autotask settings: credentials (secret encrypted at rest), the zone, ticket defaults from cached picklists.

The outbound calls (zone lookup, picklists) are made by the caller with the client this module
builds; the functions here only read and write the settings row, so they can run inside the
request's transaction and the calls outside it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from ..clients.autotask import AutotaskClient, ZoneInfo
from ..extensions import db
from ..models import SystemSettings, User
from .audit import record_audit
from .secrets import decrypt_secret, encrypt_secret
from .settings import get_settings

log = logging.getLogger(__name__)

# The ticket fields a default is chosen for: (settings attribute, Autotask field, label).
DEFAULT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("autotask_default_queue_id", "queueID", "queue"),
    ("autotask_default_priority", "priority", "priority"),
    ("autotask_default_status", "status", "status"),
    ("autotask_default_issue_type", "issueType", "issue type"),
    ("autotask_default_source", "source", "source"),
)
# Autotask needs these on every new ticket (a queue, or a resource with a role, which we do not set).
REQUIRED_DEFAULTS = ("queueID", "priority", "status")
PICKLIST_FIELDS = tuple(field for _, field, _ in DEFAULT_FIELDS)


class AutotaskNotConfigured(ValueError):
    """The settings lack what an Autotask call needs; the message says what to fill in."""


@dataclass(frozen=True)
class PicklistOption:
    value: int
    label: str
    active: bool
    default: bool


@dataclass(frozen=True)
class AutotaskSettingsInput:
    enabled: bool
    username: str
    secret: str | None  # empty or None: keep the stored one
    integration_code: str
    zone_lookup_url: str
    defaults: Mapping[str, int | None]  # by Autotask field name (queueID, priority, ...)
    sync_enabled: bool
    sync_interval_minutes: int


def autotask_configured(settings: SystemSettings) -> bool:
    return bool(settings.autotask_username and settings.autotask_secret_encrypted
                and settings.autotask_integration_code)


def autotask_client_from_settings(settings: SystemSettings, session: requests.Session | None = None,
                                  **options: Any) -> AutotaskClient:
    """A client for the stored credentials; ``options`` go to :class:`AutotaskClient` (timeout, retries).

    The zone is looked up by the client from the username on its first call, so a tenant that moved
    zone is followed without a settings change.
    """
    missing = [label for label, value in (("API username", settings.autotask_username),
                                          ("secret", settings.autotask_secret_encrypted),
                                          ("API integration code", settings.autotask_integration_code))
               if not value]
    if missing:
        raise AutotaskNotConfigured(f"Autotask is not configured: {', '.join(missing)} missing "
                                    "(Settings → Autotask).")
    return AutotaskClient(username=settings.autotask_username,
                          secret=decrypt_secret(settings.autotask_secret_encrypted) or "",
                          integration_code=settings.autotask_integration_code, session=session or requests.Session(),
                          zone_lookup_base_url=settings.autotask_zone_lookup_url, **options)


def check_zone_lookup_url(value: str) -> str:
    """https, or plain http to a loopback address (a local test server); the client refuses anything else."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ValueError(f"Zone lookup URL must be an https:// address, got {value!r}")
    return value


# ---- picklists -------------------------------------------------------------------------------------


def picklist_options(settings: SystemSettings) -> dict[str, list[PicklistOption]]:
    """The cached picklists by Autotask field name; empty when never refreshed or unreadable."""
    try:
        raw = json.loads(settings.autotask_picklists_json or "{}")
    except ValueError:
        log.warning("the cached Autotask picklists are not valid JSON; refresh them")
        return {}
    options: dict[str, list[PicklistOption]] = {}
    if not isinstance(raw, dict):
        return options
    for field, values in raw.items():
        if not isinstance(values, list):
            continue
        options[field] = [PicklistOption(value=int(v["value"]), label=str(v.get("label") or v["value"]),
                                         active=bool(v.get("active", True)), default=bool(v.get("default")))
                          for v in values if isinstance(v, dict) and isinstance(v.get("value"), int)]
    return options


def fetch_autotask_picklists(client: AutotaskClient) -> dict[str, list[dict[str, Any]]]:
    """The ticket picklists a default is chosen from, as stored in ``autotask_picklists_json``.

    An outbound call: make it outside an open transaction.
    """
    picklists: dict[str, list[dict[str, Any]]] = {}
    for field in PICKLIST_FIELDS:
        values = []
        for item in client.get_picklist("Tickets", field):
            try:
                value = int(item.value)
            except ValueError:
                continue  # picklist values are integers as text; anything else cannot be sent as a ticket field
            values.append({"value": value, "label": item.label, "active": item.is_active, "default": item.is_default})
        picklists[field] = values
    return picklists


def store_autotask_picklists(user: User | None, picklists: Mapping[str, list[dict[str, Any]]],
                             now_at: datetime) -> SystemSettings:
    settings = get_settings()
    settings.autotask_picklists_json = json.dumps(picklists, sort_keys=True)
    settings.autotask_picklists_refreshed_at = now_at
    counts = ", ".join(f"{field} {len(values)}" for field, values in picklists.items())
    record_audit("autotask_picklists_refreshed", f"Autotask picklists refreshed ({counts})", user)
    db.session.flush()
    return settings


def refresh_autotask_picklists(user: User | None, client: AutotaskClient, now_at: datetime) -> SystemSettings:
    """Read the picklists (and the zone) from Autotask, then store them.

    Autotask is asked first and the settings row is read only after it answered, so call this with
    no transaction open. An :class:`AutotaskError` leaves the stored picklists as they were.
    """
    picklists = fetch_autotask_picklists(client)
    zone = client.get_zone_information()
    settings = store_autotask_picklists(user, picklists, now_at)
    record_autotask_zone(zone)
    return settings


def refresh_autotask_zone(client: AutotaskClient) -> ZoneInfo:
    """Look the zone of the API user up and store it; call with no transaction open."""
    zone = client.get_zone_information()
    record_autotask_zone(zone)
    return zone


def default_problems(settings: SystemSettings) -> list[str]:
    """What is wrong with the ticket defaults: missing required ones, values gone or inactive in Autotask."""
    options = picklist_options(settings)
    problems = []
    for attribute, field, label in DEFAULT_FIELDS:
        value = getattr(settings, attribute)
        if value is None:
            if field in REQUIRED_DEFAULTS:
                problems.append(f"No default {label} is chosen.")
            continue
        known = {option.value: option for option in options.get(field, [])}
        if field in options and value not in known:
            problems.append(f"The default {label} ({value}) no longer exists in Autotask.")
        elif value in known and not known[value].active:
            problems.append(f"The default {label} ({known[value].label}) is inactive in Autotask.")
    return problems


# ---- saving ----------------------------------------------------------------------------------------


def _check_default(options: dict[str, list[PicklistOption]], field: str, label: str, value: int | None) -> None:
    if value is None:
        return
    known = {option.value: option for option in options.get(field, [])}
    if value not in known:
        raise ValueError(f"The {label} {value} is not in the Autotask picklist; refresh the picklists and choose "
                         "again.")
    if not known[value].active:
        raise ValueError(f"The {label} {known[value].label} is inactive in Autotask; choose another.")


def update_autotask_settings(user: User, data: AutotaskSettingsInput) -> SystemSettings:
    """Save the Autotask settings; the secret is replaced only when a new one is typed.

    A changed username forgets the stored zone (it belongs to the old user); the caller looks the
    new one up afterwards and stores it with :func:`record_autotask_zone`.
    """
    settings = get_settings()
    if not 1 <= data.sync_interval_minutes <= 1440:
        raise ValueError("Sync interval must be between 1 and 1440 minutes.")
    zone_lookup_url = check_zone_lookup_url(data.zone_lookup_url)
    username = data.username.strip()
    integration_code = data.integration_code.strip()
    has_secret = bool(data.secret) or bool(settings.autotask_secret_encrypted)
    if data.enabled and not (username and integration_code and has_secret):
        raise ValueError("Fill in the API username, secret and integration code before enabling Autotask.")
    options = picklist_options(settings)
    for _attribute, field, label in DEFAULT_FIELDS:
        _check_default(options, field, f"default {label}", data.defaults.get(field))

    if username.lower() != (settings.autotask_username or "").lower() or \
            zone_lookup_url != settings.autotask_zone_lookup_url:
        settings.autotask_zone_name = settings.autotask_zone_url = settings.autotask_web_url = None
    settings.autotask_enabled = data.enabled
    settings.autotask_username = username or None
    settings.autotask_integration_code = integration_code or None
    settings.autotask_zone_lookup_url = zone_lookup_url
    for attribute, field, _label in DEFAULT_FIELDS:
        setattr(settings, attribute, data.defaults.get(field))
    settings.autotask_sync_enabled = data.sync_enabled
    settings.autotask_sync_interval_minutes = data.sync_interval_minutes
    if data.secret:
        settings.autotask_secret_encrypted = encrypt_secret(data.secret)
    replaced = "; secret replaced" if data.secret else ""
    record_audit("settings_updated",
                 f"Autotask settings saved (Autotask {'on' if data.enabled else 'off'}, sync "
                 f"{'on' if data.sync_enabled else 'off'} every {data.sync_interval_minutes} min, user "
                 f"{settings.autotask_username or '-'}){replaced}", user)
    db.session.flush()
    return settings


def record_autotask_zone(zone: ZoneInfo) -> SystemSettings:
    """Remember the zone zoneInformation gave for the stored username (shown on the settings page)."""
    settings = get_settings()
    if (settings.autotask_zone_name, settings.autotask_zone_url, settings.autotask_web_url) != \
            (zone.zone_name or None, zone.api_url, zone.web_url or None):
        settings.autotask_zone_name = zone.zone_name or None
        settings.autotask_zone_url = zone.api_url
        settings.autotask_web_url = zone.web_url or None
        record_audit("autotask_zone", f"Autotask zone of {settings.autotask_username}: "
                                      f"{zone.zone_name or '(unnamed)'} ({zone.api_url})")
    db.session.flush()
    return settings
