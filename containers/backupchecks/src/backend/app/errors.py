"""Error pages in the site's own layout."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    def render(status: int, title: str, message: str):
        if _wants_json():
            return jsonify({"error": title, "message": message}), status
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render(400, "Form expired", "The form was open too long or came from elsewhere. "
                                            "Reload the page and try again.")

    @app.errorhandler(403)
    def forbidden(exc: HTTPException):
        return render(403, "Not allowed", "Your active role may not open this page. "
                                          "Switch role in the navbar if you hold another one.")

    @app.errorhandler(404)
    def not_found(exc: HTTPException):
        return render(404, "Not found", "There is nothing at this address.")

    @app.errorhandler(500)
    def server_error(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s", request.path)
        return render(500, "Something went wrong", "The error has been logged. Nothing was saved by this request.")
