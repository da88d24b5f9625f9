from flask import Blueprint

bp = Blueprint("main", __name__)

from . import routes_customers, routes_dashboard, routes_jobs, routes_logging, routes_settings  # noqa: E402,F401
