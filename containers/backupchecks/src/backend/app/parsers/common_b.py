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
    "search_line",
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


def _stylesheet(markdown: bool) -> etree.XSLT:
    """The walk of :func:`element_text` in libxslt: the same output, without a Python step per node.
    An element's tail is the text node after it, which its parent outputs; comments and processing
    instructions output nothing, their tails are text nodes like any other."""
    templates = [
        # The root element only: the walk never leaves it (libxml2 puts what follows </html> in a
        # second top-level element).
        '<xsl:template match="/"><xsl:apply-templates select="*[1]"/></xsl:template>',
        f'<xsl:template match="{"|".join(sorted(_SKIP_TAGS))}"/>',
        '<xsl:template match="br"><xsl:text>&#10;</xsl:text><xsl:apply-templates/></xsl:template>',
        '<xsl:template match="td|th"><xsl:apply-templates/><xsl:text>&#9;</xsl:text></xsl:template>',
    ]
    for tag in sorted(_BLOCK_TAGS - {"br"}):
        prefix = "&#10;" + _MARKDOWN_PREFIX[tag] if markdown and tag in _MARKDOWN_PREFIX else ""
        templates.append(f'<xsl:template match="{tag}"><xsl:text>{prefix}</xsl:text><xsl:apply-templates/>'
                         "<xsl:text>&#10;</xsl:text></xsl:template>")
    return etree.XSLT(etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="utf-8"/>' + "".join(templates) + "</xsl:stylesheet>"
    ), regexp=False)


_STYLESHEETS = {False: _stylesheet(False), True: _stylesheet(True)}


def element_text(element: etree._Element, markdown: bool = False) -> str:
    """Render an element to plain text with line breaks where the browser would put them.

    With ``markdown`` headings and list items keep a Markdown marker, so a parser written for a
    product's Markdown text part also reads the HTML rendering of the same report.
    """
    tree = element.getroottree()
    if tree.getroot() is element and isinstance(tree.parser, etree.HTMLParser):
        # A whole parsed HTML document (what parsers pass): the stylesheet renders it. The HTML
        # parser writes every tag name in lower case, which the stylesheet's names rely on.
        return _tidy(str(_STYLESHEETS[markdown](element)))
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
    return _tidy("".join(parts))


def _tidy(text: str) -> str:
    # Per-line rstrip rather than a "[ \t]+\n" regex, which rescans long space runs (quadratic).
    text = "\n".join([line.rstrip(" \t") for line in text.replace("\u00a0", " ").split("\n")])
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")


def mail_text(mail: NormalizedMail) -> str:
    """The text body with ``\\n`` line ends, or the HTML body rendered to text when there is none."""
    text = mail.text_body or ""
    if text and not text.isspace():
        return _NEWLINES.sub("\n", text) if "\r" in text else text
    return html_to_text(mail.html_body or "")


def search_line(pattern: re.Pattern[str], text: str, literal: str) -> re.Match[str] | None:
    """``pattern.search(text)`` for a MULTILINE ``pattern`` that starts ``^[ \t]*<literal>``.

    ``re`` tries such a pattern at every position of the text (a ``^`` gives it no literal to skip
    ahead to), which costs more on a long body than everything else a parser does; this looks for
    ``literal`` instead and tries the pattern only at the start of a line that holds it after
    nothing but blanks. Each line is looked at once."""
    at = text.find(literal)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        if not text[start:at].strip(" \t"):
            match = pattern.match(text, start)
            if match:
                return match
        # A later occurrence on the same line has the first one before it: go to the next line.
        end = text.find("\n", at)
        if end < 0:
            return None
        at = text.find(literal, end + 1)
    return None


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
