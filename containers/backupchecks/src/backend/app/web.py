"""What every template can use: time formatting, navbar access checks, status badges."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, g, request

from .auth.access import can_access
from .models import ROLE_LABELS
from .services.context_cache import forget_all
from .timefmt import format_local

STATUS_BADGE_CLASSES = {
    "success": "text-bg-success",
    "warning": "text-bg-warning",
    "failed": "text-bg-danger",
    "missed": "text-bg-danger",
    "override": "text-bg-primary",
}


def url_with(**changes) -> str:
    """The current URL with some query parameters changed (None removes one); for pagers and filters."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return request.path + ("?" + urlencode(args) if args else "")


def register_template_helpers(app: Flask) -> None:
    @app.before_request
    def _read_settings_afresh() -> None:
        # Per-request caches live on g; an app context can outlive one request (CLI, tests).
        g.pop("ui_zone", None)
        g.pop("access_role", None)
        forget_all()

    @app.context_processor
    def _navbar_counts() -> dict:
        # One indexed COUNT per page, only for roles that see the Inbox.
        if request.endpoint and can_access("main.inbox"):
            from .services.inbox import inbox_count

            return {"inbox_waiting": inbox_count()}
        return {"inbox_waiting": 0}

    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.globals.update(
        can_access=can_access,
        role_labels=ROLE_LABELS,
        status_badge_classes=STATUS_BADGE_CLASSES,
        url_with=url_with,
    )
