"""Bacula and Bareos job report mails.

Format facts: shared/corpus/formats/bacula-bareos.md (default Messages resource ``-s "Bacula: %t %e of
%c %l"``, director job summary and ``Termination:`` strings).

The subject names the client, not the job; the job name comes from the summary's ``Job:`` line
(``<name>.<YYYY-MM-DD_HH.MM.SS>_<n>``, the run suffix removed). ``Termination:`` is the
authoritative result; the subject's exit status is the fallback. Restores and operator requests
(``Intervention needed``) are informational: they happen on demand, not on a schedule.
"""

from __future__ import annotations

import re
from datetime import datetime

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import local_time, mail_text

_SUBJECT = re.compile(
    r"(?P<product>Bacula|Bareos):\s*(?P<type>Migrated Job|Backup|Restore|Verify|Copy|Migrate|Admin|Archive|"
    r"Consolidate|Scan)\s+(?P<status>OK -- with warnings|OK|Fatal Error|Error|Cancell?ed|Differences|Incomplete|"
    r"Created|Unknown term code)\s+of\s+(?P<client>\S+)(?:\s+(?P<level>\S+))?",
    re.I,
)
_INTERVENTION = re.compile(r"(?P<product>Bacula|Bareos):\s*Intervention needed for (?P<job>\S+)", re.I)
# "  Label:   value" summary lines; the value stays on its line (an empty one is not the next line's).
_FIELD = re.compile(r"^[ \t]+(?P<key>[A-Za-z][A-Za-z ()/-]*?):[ \t]+(?P<value>\S.*)$", re.M)
_RUN_SUFFIX = re.compile(r"\.\d{4}-\d\d-\d\d_\d\d\.\d\d\.\d\d_\d+$")
_CLIENT = re.compile(r"^\"?(?P<name>[^\"\s]+)")
_LOG = re.compile(r"JobId \d+: (?P<level>Fatal error|Error|Warning):[ \t]*(?P<msg>.*)$", re.M)
# A failed job's summary starts "… JobId n: Error: Bacula <director> <version>:"; not a cause.
_SUMMARY_HEADER = re.compile(r"^(?:Bacula|Bareos) \S+ \d[\w.]* \(\w+\):$")
_LOG_PREFIX = re.compile(r"^\d{1,2}-[A-Za-z]{3}(?:-\d{4})? \d\d:\d\d \S+ JobId \d+: ")
_START = re.compile(
    r"^(?:(?P<d>\d{1,2})-(?P<mon>[A-Za-z]{3})-(?P<y>\d{4})|(?P<y2>\d{4})-(?P<mo2>\d\d)-(?P<d2>\d\d))"
    r"[ T](?P<h>\d\d):(?P<mi>\d\d)(?::(?P<s>\d\d))?"
)
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
# Bacula and Bareos spell some termination strings differently ("failed -- Incomplete").
_TERMINATION: tuple[tuple[re.Pattern[str], Status], ...] = (
    (re.compile(r"OK -- with warnings|Differences", re.I), "warning"),
    (re.compile(r"\*\*\*|Error|Cancel|failed|Incomplete", re.I), "failed"),
    (re.compile(r"\bOK\b", re.I), "success"),
)
_EXIT_STATUS: dict[str, Status] = {
    "ok": "success",
    "ok -- with warnings": "warning",
    "differences": "warning",
}
_INFORMATIONAL_TYPES = ("restore",)


def _status_of(termination: str) -> Status | None:
    for pattern, status in _TERMINATION:
        if pattern.search(termination):
            return status
    return None


def _start(value: str, mail: NormalizedMail) -> datetime | None:
    match = _START.match(value)
    if not match:
        return None
    if match["y"]:
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            return None
        year, day = int(match["y"]), int(match["d"])
    else:
        year, month, day = int(match["y2"]), int(match["mo2"]), int(match["d2"])
    return local_time(mail, year, month, day, int(match["h"]), int(match["mi"]), int(match["s"] or 0))


class BaculaParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject_text = " ".join((mail.subject or "").split())
        text = mail_text(mail)
        product = "Bareos" if "bareos" in (subject_text + "\n" + text[:2000]).lower() else "Bacula"

        intervention = _INTERVENTION.search(subject_text)
        if intervention:
            job = _RUN_SUFFIX.sub("", intervention["job"])
            return ParseResult(
                parser_key=self.key,
                backup_software=product,
                backup_type="Intervention",
                job_name=job,
                overall_status="warning",
                informational=True,
                message=next((_LOG_PREFIX.sub("", line.strip()) for line in text.split("\n") if line.strip()), None),
            )

        subject = _SUBJECT.search(subject_text)
        fields: dict[str, str] = {}
        for match in _FIELD.finditer(text):
            fields.setdefault(match["key"].strip().lower(), match["value"].strip())
        if not subject and "termination" not in fields:
            raise ParseError("neither a 'Bacula: <type> <status> of <client>' subject nor a job summary")

        termination = fields.get("termination")
        status = _status_of(termination) if termination else None
        if status is None and subject:
            status = _EXIT_STATUS.get(subject["status"].lower(), "failed")
        if status is None:
            raise ParseError(f"unknown termination {termination!r}")

        job_field = fields.get("job")
        client_field = _CLIENT.match(fields.get("client", ""))
        client = client_field["name"] if client_field else (subject["client"] if subject else None)
        if job_field:
            job_name = _RUN_SUFFIX.sub("", job_field)
        elif client:
            job_name = client
        else:
            raise ParseError("no Job: line and no client in the subject")
        job_type = (subject["type"] if subject else fields.get("job type", "Backup")).strip()
        job_type = job_type[:1].upper() + job_type[1:]

        log = [(m["level"], m["msg"].strip()) for m in _LOG.finditer(text)]
        log = [(level, msg) for level, msg in log if not _SUMMARY_HEADER.match(msg)]
        if status == "failed":
            lines = [msg for level, msg in log if level != "Warning"] or [msg for _, msg in log]
        elif status == "warning":
            lines = [msg for level, msg in log if level == "Warning"]
        else:
            lines = []
        error = "\n".join(lines) or (termination if status != "success" else None)
        objects = (ParsedObject(name=client, type="Client", status=status, error=error),) if client else ()
        start = fields.get("start time")
        return ParseResult(
            parser_key=self.key,
            backup_software=product,
            backup_type=job_type,
            job_name=job_name,
            overall_status=status,
            informational=job_type.lower() in _INFORMATIONAL_TYPES,
            objects=objects,
            run_at=_start(start, mail) if start else None,
            message=error if not objects else None,
        )


BACULA_PARSER = BaculaParser(
    key="bacula_bareos",
    name="Bacula / Bareos job report",
    software="Bacula",
    backup_types=("Backup", "Copy", "Migrate", "Verify", "Admin", "Restore", "Intervention"),
    rules=(
        MatchRule(subject_regex=r"^(?:Bacula|Bareos):"),
        MatchRule(from_contains="bacula", body_contains="Termination:"),
        MatchRule(from_contains="bareos", body_contains="Termination:"),
    ),
    example="Bacula: Backup OK of client01-fd Incremental",
)
