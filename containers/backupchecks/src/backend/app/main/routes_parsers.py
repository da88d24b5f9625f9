"""The parser registry as a table, and the test bench."""

from __future__ import annotations

from flask import render_template, request

from ..auth.access import ADMIN, STAFF, roles_required
from ..parsers.normalize import normalize_eml
from ..parsers.registry import PARSERS, explain, parse_mail
from . import bp

MAX_PASTE_BYTES = 10 * 1024 * 1024


@bp.route("/parsers")
@roles_required(*ADMIN)
def parsers():
    return render_template("main/parsers.html", parsers=PARSERS)


@bp.route("/parsers/test", methods=["GET", "POST"])
@roles_required(*STAFF)
def parser_test():
    """Upload or paste a mail: which parser matches and what it makes of it, or why none does."""
    context: dict = {}
    if request.method == "POST":
        upload = request.files.get("eml")
        raw = upload.read() if upload and upload.filename else (request.form.get("raw") or "").encode("utf-8")
        if not raw.strip():
            context["error"] = "Upload an .eml file or paste a raw mail (headers, a blank line, the body)."
        elif len(raw) > MAX_PASTE_BYTES:
            context["error"] = "That mail is larger than 10 MB."
        else:
            try:
                mail = normalize_eml(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            except ValueError as exc:
                context["error"] = f"This is not a mail: {exc}"
            else:
                context.update(mail=mail, outcome=parse_mail(mail), reasons=explain(mail))
        context["raw_text"] = raw.decode("utf-8", errors="replace")[:200_000] if raw else ""
    return render_template("main/parser_test.html", **context)
