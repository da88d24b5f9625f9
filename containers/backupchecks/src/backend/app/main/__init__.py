from flask import Blueprint

bp = Blueprint("main", __name__)

from . import (  # noqa: E402,F401  (routes attach themselves to bp)
    routes_autotask,
    routes_cove,
    routes_customers,
    routes_daily_jobs,
    routes_dashboard,
    routes_inbox,
    routes_jobs,
    routes_logging,
    routes_overrides,
    routes_parsers,
    routes_run_checks,
    routes_settings,
    routes_tickets,
)
