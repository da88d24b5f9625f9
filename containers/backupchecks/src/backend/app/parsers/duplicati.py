"""Duplicati result mails.

Format facts: shared/corpus/formats/duplicati.md and the four samples in shared/corpus/raw/duplicati.

The body is the operation result as ``Key: Value`` lines (``MainOperation``, ``ParsedResult``,
``BeginTime: 2/16/2019 10:23:50 PM (1550384630)``, ``Warnings: [ … ]``, ``Errors: [ … ]``); a fatal
run instead starts with ``Failed: <message>``, ``Details:`` and ``Log data:``. The backup name
only travels in the subject (``… report for %backup-name%``), so a customised subject must keep
that phrase. Non-backup operations (List, Restore, Compact, …) also mail; they are informational.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import epoch_time, mail_text, search_line

SOFTWARE = "Duplicati"

_REPORT_FOR = re.compile(r"report for (?P<name>.+)$", re.I)
_SUBJECT_OPERATION = re.compile(r"Duplicati\s+(?:(?:Success|Warning|Error|Fatal)\s*,?\s*)?(?P<op>[A-Za-z]+)\b", re.I)
# "Key: value" lines, for the keys this parser reads (a result has dozens of others): exactly the
# lines "[A-Za-z]+:" would match whose key is one of these.
_READ_KEYS = ("MainOperation", "ParsedResult", "BeginTime", "Errors", "Warnings", "ListFilesets", "Files")
_KEY = re.compile(rf"^(?P<indent>[ \t]*)(?P<key>{'|'.join(_READ_KEYS)}):[ \t]*(?P<value>.*)$", re.M)
_FAILED = re.compile(r"^[ \t]*Failed:[ \t]*(?P<msg>\S.*)$", re.M)
_BEGIN_EPOCH = re.compile(r"\((\d{9,11})\)")
# "Key: []" or "Key: [" … entries … a line holding only "]" (entries may contain brackets).
_LIST_BLOCK = r"^[ \t]*{key}:[ \t]*\[(?:\][ \t]*$|(?P<body>.*?)^[ \t]*\][ \t]*$)"
_ENTRY_MESSAGE = re.compile(r"\]:\s*(?P<msg>.*)$")
_LOG_LINE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d) "
    r"(?P<off>[+-]\d\d)(?::?(?P<offm>\d\d))? - "
    r"\[(?P<level>Warning|Error)-[^\]]*\]:\s*(?P<msg>.*)$",
    re.M,
)
_STATUS: dict[str, Status] = {"success": "success", "warning": "warning", "error": "failed", "fatal": "failed"}
# Keys only a List operation prints: it has no MainOperation line of its own.
_LIST_KEYS = ("ListFilesets", "Files")
_BLOCKS = {key: re.compile(_LIST_BLOCK.format(key=key), re.M | re.S) for key in ("Warnings", "Errors")}


def _entries(text: str, key: str) -> list[str]:
    """The entries of a ``Key: [ … ]`` block, each reduced to its message text."""
    block = search_line(_BLOCKS[key], text, f"{key}:")
    if not block:
        return []
    entries = []
    for raw in (block["body"] or "").split("\n"):
        entry = raw.strip().rstrip(",").strip()
        if not entry:
            continue
        message = _ENTRY_MESSAGE.search(entry)
        entries.append(message["msg"].strip() if message else entry)
    return entries


class DuplicatiParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = " ".join((mail.subject or "").split())
        text = mail_text(mail)
        lines = text.split("\n")
        first = next((line.strip() for line in lines if line.strip()), "")

        name = _REPORT_FOR.search(subject) or _REPORT_FOR.search(first)
        if not name:
            raise ParseError("cannot find the backup name: keep 'report for %backup-name%' in the mail subject")
        job_name = name["name"].strip()

        # Nested results (DeleteResults, BackendStatistics) repeat keys such as ParsedResult
        # indented; the least indented occurrence is the operation's own.
        values: dict[str, str] = {}
        depth: dict[str, int] = {}
        for match in _KEY.finditer(text):
            key, indent = match["key"], len(match["indent"])
            if indent < depth.get(key, 1 << 30):
                values[key], depth[key] = match["value"].strip(), indent
        operation = values.get("MainOperation")
        if not operation:
            if any(key in values for key in _LIST_KEYS):
                operation = "List"
            else:
                from_subject = _SUBJECT_OPERATION.search(subject) or _SUBJECT_OPERATION.search(first)
                operation = from_subject["op"] if from_subject else "Backup"
        operation = operation[:1].upper() + operation[1:]

        fatal = search_line(_FAILED, text, "Failed:")
        warnings = _entries(text, "Warnings")
        errors = _entries(text, "Errors")
        # Every log line has " - [Warning-" or " - [Error-": without them, no need to try each line.
        log = list(_LOG_LINE.finditer(text)) if " - [Warning-" in text or " - [Error-" in text else []
        parsed = values.get("ParsedResult")
        if parsed:
            status = _STATUS.get(parsed.lower())
            if status is None:
                raise ParseError(f"unknown ParsedResult {parsed!r}")
        elif fatal:
            status = "failed"
        elif "Errors" in values or "Warnings" in values:
            # Old and List results have no ParsedResult; their Errors/Warnings blocks decide.
            status = "failed" if errors else "warning" if warnings else "success"
        else:
            raise ParseError("no ParsedResult, Failed: or Errors/Warnings line in the body")

        message = fatal["msg"].strip() if fatal else None
        error = None
        if status != "success":
            log_errors = [m["msg"] for m in log if m["level"] == "Error"]
            log_warnings = [m["msg"] for m in log if m["level"] == "Warning"]
            # Every message, in mail order: the first is often only "Fatal error" and the cause follows.
            error = message or "\n".join(errors or log_errors or warnings or log_warnings) or None

        run_at = None
        begin = _BEGIN_EPOCH.search(values.get("BeginTime", ""))
        if begin:
            run_at = epoch_time(begin[1])
        elif log:
            run_at = _log_time(log[0])

        informational = operation.lower() != "backup"
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=operation,
            job_name=job_name,
            overall_status=status,
            informational=informational,
            objects=(ParsedObject(name=job_name, type="Backup set", status=status, error=error),),
            run_at=run_at,
            message=message,
        )


def _log_time(line: re.Match[str]) -> datetime | None:
    """Log-data lines carry their own UTC offset (``-08``)."""
    sign = -1 if line["off"].startswith("-") else 1
    offset = sign * timedelta(hours=int(line["off"][1:]), minutes=int(line["offm"] or 0))
    try:
        stated = datetime(
            int(line["y"]),
            int(line["mo"]),
            int(line["d"]),
            int(line["h"]),
            int(line["mi"]),
            int(line["s"]),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    return stated.astimezone(UTC)


DUPLICATI_PARSER = DuplicatiParser(
    key="duplicati",
    name="Duplicati operation report",
    software=SOFTWARE,
    backup_types=("Backup", "List", "Restore", "Compact", "Test", "Repair"),
    rules=(
        MatchRule(subject_contains="Duplicati"),
        MatchRule(body_contains="MainOperation:"),
        MatchRule(body_contains="Duplicati.Library."),
    ),
    example="Duplicati Backup report for Nightly",
)
