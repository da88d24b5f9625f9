"""In-app documentation: Markdown pages shipped with the app, rendered and sanitised."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import markdown
import nh3
from flask import Blueprint, abort, render_template
from markupsafe import Markup

from ..auth.access import EVERYONE, roles_required

bp = Blueprint("documentation", __name__, url_prefix="/documentation")

PAGES_DIR = Path(__file__).parent / "pages"
# (slug, title), in reading order.
PAGES: tuple[tuple[str, str], ...] = (
    ("index", "Overview"),
    ("roles", "Users and roles"),
    ("statuses", "Run statuses"),
    ("customers-and-jobs", "Customers and jobs"),
    ("tickets-and-remarks", "Tickets and remarks"),
)
_ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "pre", "code"}


@cache
def render_markdown_page(slug: str) -> Markup:
    source = (PAGES_DIR / f"{slug}.md").read_text(encoding="utf-8")
    html = markdown.markdown(source, extensions=["tables", "fenced_code", "sane_lists"])
    # Sanitised even though we wrote it: the same path will render user-provided Markdown later.
    return Markup(nh3.clean(html, tags=_ALLOWED_TAGS))  # noqa: S704


@bp.route("/")
@bp.route("/<slug>")
@roles_required(*EVERYONE)
def index(slug: str = "index"):
    titles = dict(PAGES)
    if slug not in titles:
        abort(404)
    return render_template("documentation/page.html", pages=PAGES, slug=slug, title=titles[slug],
                           body=render_markdown_page(slug))
