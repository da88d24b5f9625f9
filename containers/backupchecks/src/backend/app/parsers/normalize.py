"""Raw RFC 822 bytes -> :class:`NormalizedMail`, and HTML -> text.

Everything here faces hostile input (whatever lands in a monitored mailbox), so the rule is:
decode what can be decoded, replace what cannot, and only refuse bytes that are not a mail at all
(``ValueError("not a mail: ...")``).

Decisions worth knowing:

* The ``email`` package parses with ``email.policy.default`` except for one method: header values
  come back as plain unfolded text instead of header-registry objects (see ``_RawHeaderPolicy``).
  The registry costs ten times the rest of the work and has raised on malformed values in the
  past; header text is decoded here by :func:`decode_header_value` instead.
* Bodies: every inline ``text/plain`` part goes to ``text_body`` and every inline ``text/html``
  part to ``html_body`` (multipart/alternative gives both). Anything else, and text parts sent as
  attachments, become :class:`Attachment`.
* Charsets: the declared charset is tried strictly, then UTF-8; bytes that still fail are read as
  UTF-8 with replacement when they contain real UTF-8 sequences (a damaged UTF-8 body), otherwise
  as Windows-1252 / Latin-1 (an undeclared Western European body). UTF-16 is recognised by BOM,
  by declaration or by its NUL-byte pattern; Veeam Backup for Microsoft 365 sends UTF-16-LE
  without a BOM, which a strict reader would take as big-endian and turn into CJK noise.
* Forwarded mails attached as ``message/rfc822``: the original's bodies are appended to the outer
  bodies (after a "Forwarded message" block in the text) so that parsers see the vendor's report,
  and the original is also kept as an attachment.
* ``received_at`` is the Date header in UTC; ``date_offset`` keeps the offset it was written in.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import copy
import quopri
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime

from lxml import etree
from lxml import html as lxml_html

from .base import Attachment, NormalizedMail

__all__ = [
    "decode_bytes",
    "decode_header_value",
    "element_text",
    "html_to_text",
    "marked_rows",
    "normalize_eml",
    "parse_html",
    "render_text",
    "table_rows",
]

# RFC 5322 unfolding: a line break followed by white space is not part of the value.
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
# RFC 2047: white space between two adjacent encoded words is not displayed.
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t\r\n]+(?==\?)")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*")
# A lead byte followed by its continuation bytes: proof that a body was meant as UTF-8.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_LINE_BREAKS = re.compile(r"[\r\n]")

_BOM_UTF8 = codecs.BOM_UTF8
_BOMS_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Charset labels seen in the wild that Python does not know by that name.
_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "ansi_x3.4-1968": "ascii",
    "windows-874": "cp874",
    "ks_c_5601-1987": "euc-kr",
}


def _norm_charset(charset: str | None) -> str:
    if not charset:
        return ""
    name = charset.strip().strip("\"'").lower()
    # RFC 2231 language suffix (utf-8*en) and stray parameters.
    name = name.split("*", 1)[0].split(";", 1)[0].strip()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return ""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def _utf16_endianness(data: bytes) -> str | None:
    """'le' / 'be' when the NUL bytes say the data is UTF-16 text, else None."""
    sample = data[:400]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # Mostly-ASCII UTF-16 has a NUL in every other byte; real 8-bit text has none.
    if odd_nuls >= pairs * 0.3 and odd_nuls > even_nuls * 2:
        return "le"
    if even_nuls >= pairs * 0.3 and even_nuls > odd_nuls * 2:
        return "be"
    return None


def _decode_utf16(data: bytes, declared: str) -> str:
    if data[:2] in _BOMS_UTF16:
        return data.decode("utf-16", errors="replace")
    if declared in ("utf-16-le", "utf-16-be"):
        return data.decode(declared, errors="replace")
    # Declared plain "utf-16" without BOM means big-endian by RFC 2781, but VB365 writes
    # little-endian; the NUL pattern decides, defaulting to LE because that is what is sent.
    endian = _utf16_endianness(data) or "le"
    return data.decode(f"utf-16-{endian}", errors="replace")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode body or header bytes; never raises. See the module docstring for the order."""
    if not data:
        return ""
    declared = _norm_charset(charset)
    if data[:2] in _BOMS_UTF16 or declared.startswith("utf-16") or (
        declared not in ("utf-32", "utf-32-le", "utf-32-be") and _utf16_endianness(data)
    ):
        return _decode_utf16(data, declared)
    if data[:3] == _BOM_UTF8:
        data = data[3:]
        declared = "utf-8"
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _UTF8_SEQUENCE.search(data):
        return data.decode("utf-8", errors="replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_encoded_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.group(1), match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        else:
            raw = quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(raw, charset)


def decode_header_value(value: object) -> str:
    """A header value as display text: unfolded, RFC 2047 words decoded, never raising.

    Accepts ``None`` (-> ""), ``str`` (possibly with encoded words or surrogate-escaped 8-bit
    bytes, as the ``email`` package keeps undeclared 8-bit headers) and ``bytes``.
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        text = decode_bytes(bytes(value))
    else:
        text = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            # Raw 8-bit header bytes (no RFC 2047): decode them like an undeclared body.
            text = decode_bytes(text.encode("utf-8", "surrogateescape"))
    text = _FOLD.sub("", text)
    if "=?" in text:
        text = _ENCODED_WORD.sub(_decode_encoded_word, _BETWEEN_WORDS.sub("", text))
    return " ".join(text.split())


def _raw_header(msg: Message, name: str) -> str | None:
    """The first raw value of header ``name`` without going through the header registry."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return value
    return None


def _address(value: str) -> str:
    """The bare, lower-cased address of a From header value ('' when there is none)."""
    if not value:
        return ""
    try:
        for _name, addr in getaddresses([value]):
            if "@" in addr:
                return addr.strip().lower()
    except (ValueError, IndexError, TypeError):  # pragma: no cover - getaddresses is lenient
        pass
    found = _ADDRESS.search(value)
    return found.group(0).lower() if found else value.strip()


def _received(value: str | None) -> tuple[datetime | None, timedelta | None]:
    if not value:
        return None, None
    try:
        stamp = parsedate_to_datetime(decode_header_value(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, None
    if stamp.tzinfo is None:
        # "-0000": the time is UTC but the sender's own offset is unknown.
        return stamp.replace(tzinfo=UTC), None
    return stamp.astimezone(UTC), stamp.utcoffset()


def _payload_bytes(part: Message) -> bytes:
    # Decoding errors (bad base64, bad quoted-printable) become defects, not exceptions.
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


class _Collector:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []

    def walk(self, part: Message, depth: int = 0) -> None:
        if depth > 20:
            # Pathological nesting; what was collected so far is still useful.
            return
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                self._forwarded(payload[0], part.get_filename(), depth)
                return
        if part.is_multipart():
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else ():
                if isinstance(sub, Message):
                    self.walk(sub, depth + 1)
            return
        disposition = (part.get_content_disposition() or "").lower()
        filename = decode_header_value(part.get_filename() or "")
        data = _payload_bytes(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment":
            text = decode_bytes(data, part.get_content_charset())
            (self.html if ctype == "text/html" else self.text).append(text)
            return
        self.attachments.append(Attachment(filename=filename, content_type=ctype, data=data))

    def _forwarded(self, inner: Message, filename: str | None, depth: int) -> None:
        subject = decode_header_value(_raw_header(inner, "subject"))
        try:
            data = inner.as_bytes()
        except Exception:  # noqa: BLE001 - re-serialising a broken message may fail; the bodies remain
            data = b""
        filename = decode_header_value(filename or "") or f"{subject or 'forwarded'}.eml"
        self.attachments.append(Attachment(filename=filename, content_type="message/rfc822", data=data))
        block = ["", "---------- Forwarded message ----------"]
        for name in ("From", "Date", "Subject"):
            value = decode_header_value(_raw_header(inner, name))
            if value:
                block.append(f"{name}: {value}")
        self.text.append("\n".join(block) + "\n")
        self.walk(inner, depth + 1)


class _RawHeaderPolicy(EmailPolicy):
    """``email.policy.default`` except that header values are handed out as plain unfolded text.

    The default policy builds a header object through the header registry on every access; for
    Content-Type that is ~3 ms a mail (the parser asks for it again and again), ten times the rest
    of the work. Nothing here needs those objects: header text is decoded by
    :func:`decode_header_value` and ``Message``'s own parameter parsing works on plain strings.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:  # type: ignore[override]
        # Unfolded as the default policy does it: drop the line breaks, keep the white space.
        return _LINE_BREAKS.sub("", value)


_POLICY = _RawHeaderPolicy()


def normalize_eml(raw: bytes) -> NormalizedMail:
    """Turn the bytes of one RFC 822 message into a :class:`NormalizedMail`.

    Raises ``ValueError("not a mail: ...")`` for input that has no header block, or neither a
    From nor a Subject header. Any other damage (bad charsets, broken base64, truncated parts) is
    decoded as well as possible instead.
    """
    if not isinstance(raw, bytes | bytearray):
        raise ValueError(f"not a mail: expected bytes, got {type(raw).__name__}")
    if not bytes(raw).strip():
        raise ValueError("not a mail: empty input")
    msg: EmailMessage = BytesParser(policy=_POLICY).parsebytes(bytes(raw))  # type: ignore[assignment]
    names = {key.lower() for key in msg}
    if not names:
        raise ValueError("not a mail: no header block")
    if "from" not in names and "subject" not in names:
        raise ValueError("not a mail: neither a From nor a Subject header")

    collector = _Collector()
    collector.walk(msg)
    received_at, offset = _received(_raw_header(msg, "date"))
    return NormalizedMail(
        from_address=_address(decode_header_value(_raw_header(msg, "from"))),
        subject=decode_header_value(_raw_header(msg, "subject")),
        text_body="\n".join(t for t in collector.text if t),
        html_body="\n".join(h for h in collector.html if h),
        received_at=received_at,
        attachments=tuple(collector.attachments),
        date_offset=offset,
    )


# --- HTML ---------------------------------------------------------------------------------------

# Elements after which a browser starts a new line (table cells are separate).
_BLOCK_TAGS = (
    "address", "article", "blockquote", "caption", "dd", "div", "dl", "dt", "footer", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tbody", "thead",
    "tfoot", "tr", "ul",
)
_HIDDEN_TAGS = ("script", "style", "head", "title", "template", "noscript")
# Marks in the text that XSLT writes: a soft break (where blocks meet: one line break however
# many edges meet), the end of a table cell, the end of a table row. Private-use characters:
# never shown in mail text, and allowed in XML.
SOFT_BREAK = "\ue000"
CELL_END = "\ue001"
ROW_END = "\ue002"
# A run of soft-break marks with only spaces and tabs between them: one line break. The spaces and
# tabs around the run end up at a line's end or start, where they are stripped anyway. Linear: a
# match starts only at a mark, and the spaces after a mark are scanned once.
_SOFT_BREAK_RUN = re.compile("\ue000(?:[ \t]*\ue000)*")
# White space that display collapses to one space; a lone space is left alone (it needs no change,
# and replacing every word gap with itself costs more than the rest of the rendering).
_SPACES = re.compile(r"[\f\v\r\u00a0\u200b][ \f\v\r\u00a0\u200b]*| [ \f\v\r\u00a0\u200b]+")
_ODD_SPACES = ("\u00a0", "\r", "\u200b", "\f", "\v")
_TABS = re.compile(r" ?\t[ \t]*")
_BLANK_LINES = re.compile(r"\n{3,}")


def _stylesheet(body: str) -> etree.XSLT:
    blocks = "|".join(_BLOCK_TAGS)
    hidden = "|".join(_HIDDEN_TAGS)
    return etree.XSLT(etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="utf-8"/>'
        f"{body}"
        f'<xsl:template match="{hidden}"/>'
        '<xsl:template match="br"><xsl:text>&#10;</xsl:text></xsl:template>'
        f'<xsl:template match="{blocks}"><xsl:text>&#xE000;</xsl:text><xsl:apply-templates/>'
        "<xsl:text>&#xE000;</xsl:text></xsl:template>"
        '<xsl:template match="td|th"><xsl:apply-templates/><xsl:text>&#xE001;</xsl:text></xsl:template>'
        "</xsl:stylesheet>"
    ), regexp=False)  # no EXSLT regular expressions: registering them costs on every call


# Rendering in libxslt instead of a Python walk over every node keeps text extraction well below
# the cost of the HTML parse itself. The whole document as text:
_TEXT_XSLT = _stylesheet('<xsl:template match="/"><xsl:apply-templates/></xsl:template>')
# Only the innermost table rows (a row holding a nested table is layout), each ended by ROW_END.
_ROWS_XSLT = _stylesheet(
    # "/descendant::tr" rather than "//tr" (which visits every node), and "descendant::table[1]": the
    # first nested table settles it, the others need not be collected.
    '<xsl:template match="/"><xsl:for-each select="/descendant::tr[not(descendant::table[1])]">'
    '<xsl:for-each select="td|th"><xsl:apply-templates/><xsl:text>&#xE001;</xsl:text></xsl:for-each>'
    "<xsl:text>&#xE002;</xsl:text></xsl:for-each></xsl:template>"
)
# Lean trees also skip what no parser reads: the hash of id attributes and the default DOCTYPE
# node added to a document that has none (neither is part of the element tree).
_LEAN_OPTIONS = {"remove_comments": True, "remove_pis": True, "collect_ids": False, "default_doctype": False}
_LEAN_PARSER = etree.HTMLParser(**_LEAN_OPTIONS)
_LEAN_BYTES_PARSER = etree.HTMLParser(**_LEAN_OPTIONS, encoding="utf-8")
_HTML_BYTES_PARSER = lxml_html.HTMLParser(encoding="utf-8")


def parse_html(html: str, *, lean: bool = False) -> etree._Element | None:
    """Parse an HTML body once (lxml recovers broken markup); None when nothing is parseable.

    By default the result is an ``lxml.html`` tree. ``lean=True`` gives plain ``lxml.etree``
    elements without comments: enough for reading text and tables, and cheaper to walk, because
    ``lxml.html`` runs a Python class lookup for every element it hands out.
    """
    if html and "\x00" in html:
        # libxml2 turns NUL into U+FFFD; a NUL in a mail body is damage, not text.
        html = html.replace("\x00", "")
    if not html or html.isspace():  # isspace() stops at the first character that is not
        return None
    try:
        if lean:
            return etree.fromstring(html, _LEAN_PARSER)
        return lxml_html.document_fromstring(html)
    except ValueError:
        # An XML encoding declaration in a str, or control characters: parse as bytes instead.
        data = _CONTROL.sub("", html).encode("utf-8")
        if lean:
            return etree.fromstring(data, _LEAN_BYTES_PARSER)
        try:
            return lxml_html.document_fromstring(data, parser=_HTML_BYTES_PARSER)
        except etree.ParserError:
            return None
    except etree.ParserError:
        # "Document is empty": only comments or white space.
        return None


def _as_document(element: etree._Element) -> etree._Element | etree._ElementTree:
    # XSLT starts at the document root; a sub-element is rendered on its own copy.
    return element if element.getparent() is None else copy.deepcopy(element)


def render_text(text: str) -> str:
    """Marked text (see the XSLT above) as display lines: one line break where blocks meet, cells
    separated by one tab, spaces collapsed, at most one blank line in a row."""
    # Each step runs only when its pattern can occur: a regex scan of a short body costs more than
    # the handful of substring tests that rule it out.
    text = text.replace(CELL_END, "\t")
    if SOFT_BREAK in text:
        text = _SOFT_BREAK_RUN.sub("\n", text)
    if any(char in text for char in _ODD_SPACES):
        text = _TABS.sub("\t", _SPACES.sub(" ", text))
        text = "\n".join([line.strip(" \t") for line in text.split("\n")])
    else:
        # Only spaces and tabs: a run of them becomes one space (one tab if it holds a tab), and no
        # run crosses a line break, so collapsing them after the lines' ends are stripped gives the
        # same text; most of the white space (indentation) is gone by then, often all of it.
        text = "\n".join([line.strip(" \t") for line in text.split("\n")])
        if "  " in text:
            text = _SPACES.sub(" ", text)
        if " \t" in text or "\t " in text or "\t\t" in text:  # else every tab stands alone already
            text = _TABS.sub("\t", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")


def element_text(element: etree._Element) -> str:
    """An element of a parsed document (``lean`` or not) as text the way a mail client shows it:
    blocks on their own lines, table cells separated by a tab, hidden elements left out."""
    return render_text(str(_TEXT_XSLT(_as_document(element))))


def marked_rows(element: etree._Element) -> str:
    """The innermost table rows under ``element`` as one marked text: each cell's text (line breaks
    and soft breaks kept) followed by ``CELL_END``, each row followed by ``ROW_END``."""
    return str(_ROWS_XSLT(_as_document(element)))


def table_rows(element: etree._Element) -> list[list[str]]:
    """The innermost table rows under ``element``, each as its cells' raw marked text (line breaks
    and soft breaks inside a cell kept for the caller to tidy)."""
    rows = []
    for row in marked_rows(element).split(ROW_END)[:-1]:
        cells = row.split(CELL_END)
        if len(cells) > 1:
            rows.append(cells[:-1])
    return rows


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (see :func:`element_text`); "" for empty or unparseable input."""
    root = parse_html(html, lean=True)
    return element_text(root) if root is not None else ""
