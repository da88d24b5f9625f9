"""Text helpers shared by the Veeam, Synology, 3CX, NAKIVO and QNAP parsers.

Everything here is pure and total: hostile input gives ``None`` / empty results, never an
exception, because parsers call these on whatever a mail contains.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from .base import NormalizedMail, Status
from .normalize import CELL_END, ROW_END, SOFT_BREAK, html_to_text, marked_rows, table_rows

_RANK: dict[str, int] = {"success": 0, "warning": 1, "failed": 2}


def worst(statuses: Iterable[Status | None], default: Status = "success") -> Status:
    """The most severe of ``statuses`` (failed > warning > success); ``None`` entries are ignored."""
    result: Status = default
    for status in statuses:
        if status is not None and _RANK[status] > _RANK[result]:
            result = status
    return result


# --- status words -------------------------------------------------------------------------------

# Checked in this order on purpose: partial-success phrases contain the success word
# ("partially successful", "gedeeltelijk voltooid", "teilweise erfolgreich") and negated success
# phrases contain it too ("unsuccessful", "non riuscita", "niet voltooid"). The patterns are
# lower case and run on lowered text: case-insensitive alternations are much slower in ``re``.
_STATUS_PATTERNS: tuple[tuple[re.Pattern[str], Status], ...] = (
    (
        re.compile(
            r"partial(?:ly)?\b|with (?:minor )?(?:warnings?|exceptions)|\bwarnings?\b|gedeeltelijk|"
            r"met waarschuwingen?|waarschuwing|teilweise|mit warnungen|\bwarnung|parzialmente|"
            r"\bavviso\b|not completed|niet voltooid|nicht abgeschlossen",
        ),
        "warning",
    ),
    (
        re.compile(
            r"\bfail(?:ed|ure|s)?\b|\berrors?\b|unsuccessful|not successful|\bmislukt|\bfout\b|"
            r"fehlgeschlagen|\bfehler\b|non riuscit[ao]|\berrore\b|cancel+ed|\baborted\b|geannuleerd|"
            r"abgebrochen|mislykke[ds]",
        ),
        "failed",
    ),
    (
        re.compile(
            r"\bsuccess(?:ful(?:ly)?)?\b|\bsucceeded\b|\bcomplete[d]?\b|\bfinished\b|\bok\b|voltooid|"
            r"geslaagd|erfolgreich|abgeschlossen|completat[ao]|riuscit[ao]|fuldført",
        ),
        "success",
    ),
)


def status_from_text(text: str | None) -> Status | None:
    """Map a status word or short result phrase (any of EN/NL/DE/IT/DA) to a status, or None."""
    if not text:
        return None
    lowered = text.lower()
    for pattern, status in _STATUS_PATTERNS:
        if pattern.search(lowered):
            return status
    return None


# --- text ---------------------------------------------------------------------------------------

# Reply / forward markers mail clients put in front of a subject, in the languages MSPs meet.
_SUBJECT_MARKERS = re.compile(
    r"^\s*(?:(?:re|fw|fwd|wg|aw|tr|doorst|antw|sv|vs|rv|enc)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)


def clean(text: str | None) -> str:
    """Collapse all white space (including NBSP and line breaks) to single spaces and strip."""
    return " ".join(text.split()) if text else ""


def strip_subject_markers(subject: str) -> str:
    """A subject without leading "FW:", "Fwd:", "RE:", "WG:", "Doorst:" ... markers."""
    return _SUBJECT_MARKERS.sub("", subject or "").strip()


def text_lines(text: str) -> list[str]:
    """Non-empty lines of ``text`` with their white space collapsed."""
    return [" ".join(words) for raw in (text or "").splitlines() if (words := raw.split())]


def mail_text(mail: NormalizedMail) -> str:
    """The text part, or the HTML part as text when the mail has no usable text part."""
    if mail.text_body and not mail.text_body.isspace():
        return mail.text_body
    return html_to_text(mail.html_body)


@functools.lru_cache(maxsize=256)
def _wanted_labels(labels: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    """Labels as :func:`label_value` compares them, and the longest one's length. Parsers pass their
    label tuples, module constants, so each is prepared once."""
    wanted = tuple(label.lower().rstrip(":") for label in labels)
    return wanted, max(map(len, wanted), default=0)


_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+\)")
_COUNTS = re.compile(r"\{\d*(?:,\d*)?\}")


def required_literal(pattern: str) -> str:
    """The longest plain text every match of the regex ``pattern`` holds, lower-cased; "" when the
    pattern has an alternative at its top level or no plain text outside groups, sets and
    classes. A character that a quantifier may leave out ("Pakete?") is not counted. On an ASCII
    text, a case-insensitive pattern can only match where the lower-cased text holds it: a test far
    cheaper than trying the regex at every position."""
    if _INLINE_FLAGS.match(pattern):
        return ""  # (?x) and the like change what the characters mean
    runs: list[str] = []
    run: list[str] = []
    depth, index = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "{" and (counts := _COUNTS.match(pattern, index)):
            # A count: the character before may be absent ({0}) or repeated; the count is no text.
            if depth == 0:
                if run:
                    run.pop()
                runs.append("".join(run))
                run = []
            index = counts.end()
            continue
        if char == "\\":
            escaped = pattern[index + 1:index + 2]
            if escaped and not (escaped.isalnum() or escaped == "_"):
                if depth == 0:
                    run.append(escaped)  # an escaped punctuation mark is itself
            elif depth == 0:
                runs.append("".join(run))  # a class (\d, \s), an assertion (\b), a reference
                run = []
            index += 2
            continue
        if char == "[":
            # A set: up to its "]", which is a member when it comes first ("[]a]", "[^]a]"), and
            # stepping over escapes ("[\\]]").
            end = index + 2 if pattern[index + 1:index + 2] == "^" else index + 1
            if pattern[end:end + 1] == "]":
                end += 1
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            if end >= len(pattern):
                return ""  # not a pattern re compiles; no shortcut
            if depth == 0:
                runs.append("".join(run))
                run = []
            index = end + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return ""
        if depth == 0 and char not in "()":
            if char in "*?":
                if run:
                    run.pop()  # the character before may be absent
                runs.append("".join(run))
                run = []
            elif char in ".^$+":
                runs.append("".join(run))  # "+" keeps the character before, but more may follow
                run = []
            else:
                run.append(char)
        elif char == "(" and depth == 1:
            runs.append("".join(run))
            run = []
        index += 1
    runs.append("".join(run))
    return max(runs, key=len).lower()


def label_value(lines: list[str], labels: Iterable[str]) -> str | None:
    """The value after the first ``Label:`` found in ``lines`` (same line, or the next line when the
    label stands alone, as table cells do once flattened). Labels compare case-insensitively; the
    first line that carries any of the labels wins."""
    wanted, longest = _wanted_labels(labels if isinstance(labels, tuple) else tuple(labels))
    for index, line in enumerate(lines):
        # Only the start of a line can hold a label, and most lines hold none (one C-level test).
        lowered = line[:longest].lower()
        if not lowered.startswith(wanted):
            continue
        for label in wanted:
            if not lowered.startswith(label):
                continue
            rest = line[len(label):].lstrip(" ")
            # A label is followed by a colon or a cell break, or stands alone (value on the next
            # line); "Job type" is not the label "Job" followed by a space.
            if rest[:1] not in (":", "\t", ""):
                continue
            value = rest.removeprefix(":").strip(" \t")
            if value:
                return value
            if index + 1 < len(lines):
                return lines[index + 1].strip() or None
    return None


# --- HTML tables --------------------------------------------------------------------------------


def html_rows(root: etree._Element) -> list[list[str]]:
    """The innermost table rows of a document, each as its cell texts.

    Rows that hold a nested table are layout scaffolding and are skipped; their inner rows are
    listed instead. A cell's text keeps its internal line breaks (``<br>``, ``<div>``), one per
    line, with white space collapsed (see :func:`cell_text`).
    """
    rows = []
    # Line breaks and soft breaks both end a line of a cell: one mark to split on.
    for row in marked_rows(root).replace("\n", SOFT_BREAK).split(ROW_END)[:-1]:
        cells = row.split(CELL_END)
        if len(cells) > 1:
            # Most cells hold one line: collapse it in place rather than call cell_text().
            rows.append([" ".join(cell.split()) if SOFT_BREAK not in cell else _lines(cell) for cell in cells[:-1]])
    return rows


def raw_rows(root: etree._Element) -> list[list[str]]:
    """The rows of :func:`html_rows` with every cell as the stylesheet wrote it (marks and all):
    a parser that reads only some cells of a wide report tidies just those, with
    :func:`cell_text` (what ``html_rows`` gives) or :func:`cell_words` (that on one line)."""
    return table_rows(root)


def cell_text(cell: str) -> str:
    """A raw cell (:func:`raw_rows`) as :func:`html_rows` gives it: its non-empty lines, white
    space collapsed."""
    if "\n" not in cell and SOFT_BREAK not in cell:
        return " ".join(cell.split())
    return _lines(cell.replace("\n", SOFT_BREAK))


def cell_words(cell: str) -> str:
    """``clean(cell_text(cell))``: a raw cell's words on one line, single spaces between them."""
    return " ".join(cell.replace(SOFT_BREAK, " ").split())


def _lines(cell: str) -> str:
    """Lines of a cell whose line breaks are all soft breaks, white space collapsed, empty ones dropped."""
    return "\n".join([line for line in (" ".join(piece.split()) for piece in cell.split(SOFT_BREAK)) if line])


# --- time ---------------------------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januari januar jänner janvier gennaio",
        "february feb februari februar février febbraio",
        "march mar maart mrt märz maerz mars marzo",
        "april apr avril aprile",
        "may mei mai maggio",
        "june jun juni juin giugno",
        "july jul juli juillet luglio",
        "august aug augustus août agosto",
        "september sep sept septembre settembre",
        "october oct oktober okt octobre ottobre",
        "november nov novembre",
        "december dec dezember dez décembre dicembre",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_TIME = r"(?:,?\s+(?:at|om|um|alle|à)\s+|[ T,]+)(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?"
_OFFSET = re.compile(r"\s*(?:\(?(?:GMT|UTC)\s*)?([+-])(\d{1,2}):?(\d{2})")
_NUMERIC_DATE = re.compile(r"(?<![\d.:])(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})" + _TIME)
_TEXT_DAY_FIRST = re.compile(r"(?<!\d)(\d{1,2})\.?\s+([^\W\d_]{3,10})\.?,?\s+(\d{4})" + _TIME)
_TEXT_MONTH_FIRST = re.compile(r"\b([^\W\d_]{3,10})\.?\s+(\d{1,2}),?\s+(\d{4})" + _TIME)


_DATE_PATTERNS = (("num", _NUMERIC_DATE), ("dmy", _TEXT_DAY_FIRST), ("mdy", _TEXT_MONTH_FIRST))


def _hour(hour: int, meridiem: str | None) -> int:
    if meridiem:
        hour %= 12
        if meridiem.lower() == "p":
            hour += 12
    return hour


def _candidates(text: str) -> tuple[list[tuple[int, int, int, int, int, int]], re.Match[str] | None]:
    """Possible (y, m, d, H, M, S) readings of the first date-time in ``text``."""
    if ":" not in text and "." not in text:
        # Every form ends in a time, "H:MM" or "H.MM".
        return [], None
    match = None
    kind = ""
    end = len(text)
    numeric = "/" in text or "-" in text or "." in text  # the numeric form's separators
    for pattern_kind, pattern in _DATE_PATTERNS:
        if pattern_kind == "num" and not numeric:
            continue
        # Only a date that starts earlier than one already found can be the first.
        found = pattern.search(text, 0, end)
        if found:
            if match is None or found.start() < match.start():
                match, kind = found, pattern_kind
            end = found.end()
    if match is None:
        return [], None
    groups = match.groups()
    if kind == "num":
        first, _sep, middle, last = groups[0], groups[1], int(groups[2]), groups[3]
        hour, minute, second, meridiem = groups[4], groups[5], groups[6], groups[7]
        if len(first) == 4:
            dates = [(int(first), middle, int(last))]
        else:
            year = int(last) + (2000 if len(last) == 2 else 0)
            # Day-first and month-first are both real locales; the caller picks by plausibility.
            dates = [(year, middle, int(first)), (year, int(first), middle)]
    else:
        if kind == "dmy":
            day, month_name, year_text = groups[0], groups[1], groups[2]
        else:
            month_name, day, year_text = groups[0], groups[1], groups[2]
        month = _MONTHS.get(month_name.lower())
        if month is None:
            return [], None
        dates = [(int(year_text), month, int(day))]
        hour, minute, second, meridiem = groups[3], groups[4], groups[5], groups[6]
    readings = []
    for year, month, day in dates:
        reading = (year, month, day, _hour(int(hour), meridiem), int(minute), int(second or 0))
        if reading not in readings:
            readings.append(reading)
    return readings, match


def stated_datetime(text: str | None, mail: NormalizedMail) -> datetime | None:
    """The first date-time written in ``text`` as an aware UTC datetime, or None.

    A time without its own offset is read in the offset of the mail's Date header: backup products
    write their server's wall clock and the same server's mailer writes the Date header. Without
    that offset the time stays unknown (None) rather than guessed. When the digits read both ways
    (05/06 vs 06/05), the reading closest to the mail's arrival wins; with no arrival time to
    compare against, an ambiguous date gives None.
    """
    if not text:
        return None
    readings, match = _candidates(text)
    if match is None:
        return None
    offset_match = _OFFSET.match(text, match.end())
    if offset_match:
        sign = -1 if offset_match.group(1) == "-" else 1
        offset = sign * timedelta(hours=int(offset_match.group(2)), minutes=int(offset_match.group(3)))
    elif mail.date_offset is not None:
        offset = mail.date_offset
    else:
        return None
    try:
        zone = timezone(offset)
    except ValueError:
        return None
    stamps = []
    for year, month, day, hour, minute, second in readings:
        try:
            stamps.append(datetime(year, month, day, hour, minute, second, tzinfo=zone))
        except ValueError:
            continue
    if not stamps:
        return None
    if len(stamps) > 1:
        if mail.received_at is None:
            return None
        received = mail.received_at
        stamps.sort(key=lambda stamp: abs(stamp - received))
    return stamps[0].astimezone(UTC)
