"""The Graph client as the settings configure it."""

from __future__ import annotations

import requests

from ..clients.graph import GraphClient
from ..models import SystemSettings
from .secrets import decrypt_secret


class MailImportNotConfigured(ValueError):
    """Settings lack what the mail import needs; the message names what is missing."""


def graph_client_from_settings(settings: SystemSettings, session: requests.Session | None = None) -> GraphClient:
    missing = [label for label, value in (("tenant id", settings.graph_tenant_id),
                                          ("client id", settings.graph_client_id),
                                          ("client secret", settings.graph_client_secret_encrypted),
                                          ("mailbox", settings.graph_mailbox)) if not value]
    if missing:
        raise MailImportNotConfigured(f"Mail import is not configured: {', '.join(missing)} missing.")
    return GraphClient(tenant_id=settings.graph_tenant_id, client_id=settings.graph_client_id,
                       client_secret=decrypt_secret(settings.graph_client_secret_encrypted),
                       mailbox=settings.graph_mailbox, session=session or requests.Session(),
                       authority_base_url=settings.graph_authority_url, graph_base_url=settings.graph_base_url)
