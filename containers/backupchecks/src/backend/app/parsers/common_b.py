"""Helpers shared by the parsers of the "other products" group (Proxmox, Xen Orchestra, Duplicati,
UrBackup, Bacula, BackupPC, ...), on top of ``common.py`` and ``normalize.py``.

Everything here is pure and never raises on hostile input: parsers feed it whatever a mail contains.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

from lxml import etree

from .base import NormalizedMail
from .common import worst
from .normalize import html_to_text, parse_html

__all__ = [
    "element_text",
    "epoch_time",
    "html_to_text",
    "local_time",
    "mail_text",
    "parse_html",
    "worst",
]

# Elements after which a rendered line ends; <td>/<th> end a cell instead.
_BLOCK_TAGS = frozenset(
    {"p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "br", "hr"}
)
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TAGS = frozenset({"head", "title", "script", "style"})
_NEWLINES = re.compile(r"\r\n?")
_BLANK_RUNS = re.compile(r"\n{3,}")


_MARKDOWN_PREFIX = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "#### ", "li": "- "}


def element_text(element: etree._Element, markdown: bool = False) -> str:
    """Render an element to plain text with line breaks where the browser would put them.

    With ``markdown`` headings and list items keep a Markdown marker, so a parser written for a
    product's Markdown text part also reads the HTML rendering of the same report.
    """
    parts: list[str] = []
    walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    for event, node in walker:
        if event in ("comment", "pi"):
            # Their own text is not shown, their tail is.
            if node.tail:
                parts.append(node.tail)
            continue
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if event == "start":
            if tag in _SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag == "br":
                parts.append("\n")
            elif markdown and tag in _MARKDOWN_PREFIX:
                parts.append("\n" + _MARKDOWN_PREFIX[tag])
            if node.text:
                parts.append(node.text)
            continue
        if tag in _BLOCK_TAGS and tag != "br":
            parts.append("\n")
        elif tag in _CELL_TAGS:
            parts.append("\t")
        if node.tail and node is not element:
            parts.append(node.tail)
    # Per-line rstrip rather than a "[ \t]+\n" regex, which rescans long space runs (quadratic).
    text = "\n".join(line.rstrip(" \t") for line in "".join(parts).replace("\u00a0", " ").split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def mail_text(mail: NormalizedMail) -> str:
    """The text body with ``\\n`` line ends, or the HTML body rendered to text when there is none."""
    text = mail.text_body or ""
    if text.strip():
        return _NEWLINES.sub("\n", text)
    return html_to_text(mail.html_body or "")


def local_time(
    mail: NormalizedMail, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime | None:
    """A wall-clock time stated without offset, placed in the offset of the mail's Date header.

    Returns UTC, or None when the mail carries no offset to borrow (the run time is then unknown
    rather than guessed) or the numbers do not form a valid date.
    """
    offset = mail.date_offset
    if offset is None:
        return None
    try:
        stated = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError:
        return None
    return stated.astimezone(UTC)


def epoch_time(seconds: str | int) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
