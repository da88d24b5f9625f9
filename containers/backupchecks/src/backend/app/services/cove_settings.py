"""Cove Data Protection settings: saving them, and the Cove client they configure."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from ..clients.cove import CoveClient
from ..extensions import db
from ..models import SystemSettings, User
from .audit import record_audit
from .context_cache import cached, forget
from .secrets import decrypt_secret, encrypt_secret
from .settings import get_settings

# Plain http is accepted only for these hosts: a local relay or test server, never the internet.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_INTERVAL, MAX_INTERVAL = 5, 1440


class CoveNotConfigured(ValueError):
    """Settings lack what the Cove import needs; the message names what is missing."""


@dataclass(frozen=True)
class CoveSettingsInput:
    enabled: bool
    api_url: str
    username: str
    password: str | None  # empty or None: keep the stored one
    import_enabled: bool
    interval_minutes: int
    offline_detection_enabled: bool = False
    offline_warning_days: int = 3
    offline_failed_days: int = 7


def clean_api_url(value: str) -> str:
    """The JSON-RPC endpoint: https, or http on a loopback host; no trailing slash."""
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError(f"API URL must be an https:// address, got {value!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"API URL must be an https:// address (http only for localhost), got {value!r}")
    return value


def update_cove_settings(user: User | None, data: CoveSettingsInput) -> SystemSettings:
    settings = get_settings()
    api_url = clean_api_url(data.api_url)
    if not MIN_INTERVAL <= data.interval_minutes <= MAX_INTERVAL:
        raise ValueError(f"Interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} minutes.")
    if not 1 <= data.offline_warning_days <= 27 or not 2 <= data.offline_failed_days <= 28:
        raise ValueError("Offline days must lie within the 28 days of Cove's colour bar.")
    if data.offline_failed_days <= data.offline_warning_days:
        raise ValueError("The days before an offline device counts as failed must exceed the days before a warning.")
    has_password = bool(data.password) or bool(settings.cove_api_password_encrypted)
    if data.enabled and not (data.username.strip() and has_password):
        raise ValueError("Fill in the API username and password before enabling Cove Data Protection.")
    username = data.username.strip() or None
    settings.cove_enabled = data.enabled
    settings.cove_api_url = api_url
    settings.cove_api_username = username
    settings.cove_import_enabled = data.import_enabled
    settings.cove_import_interval_minutes = data.interval_minutes
    settings.cove_offline_detection_enabled = data.offline_detection_enabled
    settings.cove_offline_warning_days = data.offline_warning_days
    settings.cove_offline_failed_days = data.offline_failed_days
    if data.password:
        settings.cove_api_password_encrypted = encrypt_secret(data.password)
    forget("cove_enabled")
    replaced = "; password replaced" if data.password else ""
    offline = (f", offline detection after {data.offline_warning_days}/{data.offline_failed_days} days"
               if data.offline_detection_enabled else "")
    record_audit("settings_updated", f"Cove settings saved (Cove {'on' if data.enabled else 'off'}, import "
                 f"{'on' if data.import_enabled else 'off'} every {data.interval_minutes} min, user "
                 f"{username or '-'}{offline}){replaced}", user)
    db.session.flush()
    return settings


def record_partner_id(partner_id: int) -> None:
    """Remember the partner of the configured API user (from Test connection or an import's login)."""
    settings = get_settings()
    if settings.cove_partner_id != partner_id:
        settings.cove_partner_id = partner_id
        db.session.flush()


def cove_enabled() -> bool:
    """Whether Cove is switched on (the navbar asks on every page; read once per request)."""
    return cached("cove_enabled", lambda: bool(get_settings().cove_enabled))


def cove_client_from_settings(settings: SystemSettings, session: requests.Session | None = None,
                              **options) -> CoveClient:
    missing = [label for label, value in (("username", settings.cove_api_username),
                                          ("password", settings.cove_api_password_encrypted)) if not value]
    if missing:
        raise CoveNotConfigured(f"Cove Data Protection is not configured: {' and '.join(missing)} missing.")
    return CoveClient(api_url=settings.cove_api_url, username=settings.cove_api_username,
                      password=decrypt_secret(settings.cove_api_password_encrypted) or "",
                      session=session or requests.Session(), **options)
