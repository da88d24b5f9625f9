"""Veeam: Backup & Replication job reports, the stand-alone Veeam Agents, Veeam Backup for Microsoft 365.

Format facts: shared/corpus/formats/veeam.md (vendor user-guide text and report screenshots) and
the real fragment shared/corpus/raw/veeam/vbr-backup-job-error-retry2-fragment.txt.

All three products send the same HTML session report: a header cell ``<Type> job: <name>`` (with
`` (Full)`` / `` (Retry n)`` suffixes) whose second line is the job description or the product
name, a status cell (``Success`` / ``Warning`` / ``Failed`` / ``Error``) with ``n of m VMs
processed``, a date line, a summary table whose wide cell holds the job-level message, and a
``Details`` table ``Name | Status | ... | Details``. The subject is configurable per job, so the
body is the authority and the subject only fills gaps (backup copy source names, agent computer).
When a mail has no usable HTML (pasted, forwarded as text) the same facts are read from the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import (
    cell_text,
    cell_words,
    clean,
    raw_rows,
    stated_datetime,
    status_from_text,
    strip_subject_markers,
    worst,
)
from .normalize import element_text, parse_html

SOFTWARE = "Veeam"

# A status cell holds exactly one of these words.
_STATUS_WORDS: dict[str, Status] = {
    "success": "success",
    "warning": "warning",
    "failed": "failed",
    "error": "failed",
    "failure": "failed",
}
# Session states that are not a final result; a report showing one did not end well.
_UNFINISHED_WORDS = frozenset({"none", "in progress", "stopped", "running", "pending", "idle", "canceled"})
_STATUS_CELL = re.compile(
    r"^(success|warning|failed|error|failure|none|in progress|stopped|running|pending|idle|canceled)$",
    re.IGNORECASE,
)
# "Backup job: X", "Backup Copy job: X", "Agent Backup job: X", "SureBackup job: X", ...
_HEADER = re.compile(r"^(?P<kind>[A-Za-z0-9][\w &+/.-]{0,60}?\b(?:job|policy|session))\s*:\s*(?P<name>.+)$",
                     re.IGNORECASE)
# The same header inside flattened text; capitalised words only, so prose ("the backup job:")
# does not match.
_TEXT_HEADER = re.compile(r"(?P<kind>(?:[A-Z][\w&+-]*[ \u00a0]){1,4}(?:[Jj]ob|[Pp]olicy))\s*:\s*(?P<name>[^\n\t|]+)")
_TEXT_STATUS = re.compile(r"\b(Success|Warning|Failed|Error)\b")
_NAME_SUFFIX = re.compile(
    r"\s*\((?:retry\s*\d+|full|active full|synthetic full|incremental|health check|retry)\)\s*$", re.IGNORECASE
)
_CREATED_BY = re.compile(r"Created by\b", re.IGNORECASE)
_PROCESSED = re.compile(r"(\d+)\s+of\s+(\d+)\s+(\w+)\s+processed", re.IGNORECASE)
# The default subjects: VBR "[%JobResult%] %JobName% (%ObjectCount% VMs) %Issues%"; the agent's
# "[%JobResult%] %ComputerName% - %JobName% - %CompletionTime%".
_VBR_SUBJECT = re.compile(r"^\[(?P<result>\w+)\]\s*(?P<job>.+?)\s*\(\d+\s+[A-Za-z]+\)")
_AGENT_SUBJECT = re.compile(r"^\[(?P<result>\w+)\]\s*(?P<computer>[^\s]+)\s+-\s+(?P<job>.+?)\s+-\s+\S")
_DETAILS_HEADING = re.compile(r"^Details\s*:?$", re.IGNORECASE)
_FOOTER = re.compile(r"^Veeam (?:Backup|Agent)\b")
# Job-level text that means the job did not do its work.
_JOB_ERROR = re.compile(
    r"nothing to process|\berror\b|\bfailed\b|unable to|cannot|can't|unavailable|skipped|not found|no .* found",
    re.IGNORECASE,
)
_NOTHING_PROCESSED = re.compile(r"nothing to process", re.IGNORECASE)
_ASCII_DIGIT = re.compile("[0-9]")
_KIND_SUFFIX = re.compile(r"\s+(?:job|session)$", re.IGNORECASE)
_JOB_WORD = re.compile(r"\bjob$")

# Backup type per header word (lower-cased, without "job"). Unknown kinds keep their own words.
_VBR_TYPES: dict[str, str] = {
    "backup": "Backup Job",
    "backup copy": "Backup Copy Job",
    "replication": "Replication Job",
    "agent backup": "Agent Backup Job",
    "agent backup policy": "Agent Backup Policy",
    "agent policy": "Agent Backup Policy",
    "file backup": "File Backup Job",
    "file share backup": "File Backup Job",
    "nas backup": "File Backup Job",
    "object storage backup": "Object Storage Backup Job",
    "configuration backup": "Configuration Backup",
    "surebackup": "SureBackup Job",
    "backup to tape": "Backup to Tape Job",
    "file to tape": "File to Tape Job",
    "tape": "Backup to Tape Job",
}
_OBJECT_TYPES_BY_UNIT: dict[str, str] = {
    "vms": "VM",
    "vm": "VM",
    "machines": "Machine",
    "computers": "Machine",
    "hosts": "Host",
    "servers": "Machine",
    "shares": "File Share",
    "objects": "Object",
    "instances": "Instance",
    "backups": "Backup",
}


@dataclass
class _Report:
    kind: str
    name: str
    status_word: str | None
    description: str = ""
    processed: str = ""
    date_line: str = ""
    message: str | None = None
    # (name, status word, details, type column) per Details-table row
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)


def _strip_name(name: str) -> str:
    name = clean(_CREATED_BY.split(name, 1)[0])
    # Every suffix ends the name with ")" (clean() left no white space after it).
    while name.endswith(")"):
        stripped = _NAME_SUFFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    return name


def _read_rows(rows: list[list[str]]) -> _Report | None:
    """The report from the innermost table rows of the HTML, raw (``raw_rows``): a report has
    dozens of cells and only some matter, so each is tidied when it is read."""
    header_index = None
    report = None
    for index, row in enumerate(rows):
        if len(row) < 2:
            continue
        status_lines = cell_text(row[1]).split("\n")
        if not _STATUS_CELL.match(status_lines[0].strip()):
            continue
        first = cell_text(row[0]).split("\n")
        match = _HEADER.match(first[0].strip())
        processed = next((line for line in status_lines[1:] if _PROCESSED.search(line)), "")
        if match:
            kind, name = match.group("kind"), match.group("name")
        elif processed and first[0].strip():
            # Agent policy daily report: the header is the bare policy name.
            kind, name = ("Agent Backup policy" if "host" in processed.lower() else "Backup job"), first[0]
        else:
            continue
        report = _Report(
            kind=clean(kind),
            name=_strip_name(name),
            status_word=status_lines[0].strip(),
            description=clean(" ".join(first[1:])),
            processed=clean(processed),
        )
        header_index = index
        break
    if report is None or header_index is None:
        return None

    details_header = None
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if len(row) == 1:
            # A wide cell: the first one that holds a digit is the date line.
            if not report.date_line:
                words = cell_words(row[0])
                if words and (_ASCII_DIGIT.search(words) or any(ch.isdigit() for ch in words)):
                    report.date_line = words
            continue
        if len(row) >= 9 and report.message is None \
                and cell_words(row[0]).lower() in ("success", "warning", "error", "errors", "warnings"):
            # The wide cell after the eight label/value cells is the job-level message.
            report.message = cell_text(row[8]) or None
            continue
        # The column headings: a cell that is one of these words holds it in its raw text.
        lowered = "\t".join(row).lower()
        if "name" in lowered and "status" in lowered:
            header = [cell_words(cell).lower() for cell in row]
            if "name" in header and "status" in header:
                details_header = index
                break
    if details_header is None:
        return report
    name_col, status_col = header.index("name"), header.index("status")
    details_col = header.index("details") if "details" in header else None
    type_col = header.index("type") if "type" in header else None
    for row in rows[details_header + 1:]:
        if len(row) != len(header):
            break
        report.rows.append(
            (
                cell_words(row[name_col]),
                cell_words(row[status_col]),
                cell_text(row[details_col]) if details_col is not None else "",
                cell_words(row[type_col]) if type_col is not None else "",
            )
        )
    return report


def _read_text(text: str) -> _Report | None:
    """The report from flattened text (text part, pasted or forwarded report)."""
    match = _TEXT_HEADER.search(text)
    if not match:
        return None
    tail = text[match.end():]
    status = _TEXT_STATUS.search(tail[:400])
    report = _Report(kind=clean(match.group("kind")), name=_strip_name(match.group("name")),
                     status_word=status.group(1) if status else None)
    processed = _PROCESSED.search(tail[:400])
    if processed:
        report.processed = processed.group(0)
    lines = tail.split("\n")
    message: list[str] = []
    in_details = False
    for position, raw_line in enumerate(lines):
        line = clean(raw_line)
        cells = [clean(cell) for cell in raw_line.split("\t")]
        lowered = [cell.lower() for cell in cells]
        if "name" in lowered and "status" in lowered and len(cells) >= 2:
            name_col, status_col = lowered.index("name"), lowered.index("status")
            details_col = lowered.index("details") if "details" in lowered else None
            for row_line in lines[position + 1:]:
                row = [clean(cell) for cell in row_line.split("\t")]
                if len(row) < max(name_col, status_col) + 1 or not row[name_col]:
                    break
                details = row[details_col] if details_col is not None and details_col < len(row) else ""
                report.rows.append((row[name_col], row[status_col], details, ""))
            break
        if _DETAILS_HEADING.match(line):
            in_details = True
            continue
        if _FOOTER.match(line):
            break
        if in_details and line:
            message.append(line)
    report.message = "\n".join(message) or None
    return report


def _read_report(mail: NormalizedMail) -> _Report:
    root = parse_html(mail.html_body, lean=True)
    report = _read_rows(raw_rows(root)) if root is not None else None
    if report is None:
        # mail_text(mail), rendering the tree already parsed rather than parsing the HTML again.
        usable_text = mail.text_body and not mail.text_body.isspace()
        report = _read_text(mail.text_body if usable_text else element_text(root) if root is not None else "")
    if report is None:
        raise ParseError("no Veeam report header (\"<type> job: <name>\") found in the mail")
    return report


def _object_status(word: str) -> Status:
    lowered = word.lower()
    if lowered in _STATUS_WORDS:
        return _STATUS_WORDS[lowered]
    # Anything that is not a final result ("Pending", "In progress", "None") did not succeed.
    return status_from_text(word) or "failed"


def _result(key: str, mail: NormalizedMail, report: _Report, backup_type: str, job_name: str,
            objects: list[ParsedObject]) -> ParseResult:
    """The result every Veeam report gives once its type and job name are known."""
    return ParseResult(parser_key=key, backup_software=SOFTWARE, backup_type=backup_type, job_name=job_name,
                       overall_status=_overall(report, objects), objects=tuple(objects),
                       run_at=stated_datetime(report.date_line, mail), message=report.message)


def _overall(report: _Report, objects: list[ParsedObject]) -> Status:
    word = (report.status_word or "").lower()
    if word in _STATUS_WORDS:
        status = _STATUS_WORDS[word]
    elif word in _UNFINISHED_WORDS:
        status = "failed"
    elif objects:
        status = worst(o.status for o in objects)
    else:
        raise ParseError("the report states no result (Success / Warning / Failed)")
    if not objects and report.message and _JOB_ERROR.search(report.message):
        # Nothing was processed and the job says why: that run did not protect anything.
        status = worst([status, "failed" if _NOTHING_PROCESSED.search(report.message) else "warning"])
    return status


def _object_type(report: _Report, fallback: str) -> str:
    unit = _PROCESSED.search(report.processed)
    if unit:
        return _OBJECT_TYPES_BY_UNIT.get(unit.group(3).lower(), fallback)
    return fallback


def _objects(report: _Report, object_type: str) -> list[ParsedObject]:
    return [
        ParsedObject(name=name, type=type_cell or object_type, status=_object_status(word), error=details or None)
        for name, word, details, type_cell in report.rows
        if name
    ]


def _kind_key(kind: str) -> str:
    return _KIND_SUFFIX.sub("", kind.strip()).lower()


# --- Veeam Backup & Replication ----------------------------------------------------------------


@dataclass
class VeeamBackupReplicationParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        report = _read_report(mail)
        key = _kind_key(report.kind)
        backup_type = _VBR_TYPES.get(key) or clean(_JOB_WORD.sub("Job", report.kind))
        if "agent" in key:
            fallback_type = "Host" if "policy" in key else "Machine"
        elif "file" in key or "nas" in key:
            fallback_type = "File Share"
        elif "configuration" in key:
            fallback_type = "Configuration"
        else:
            fallback_type = "VM"
        objects = _objects(report, _object_type(report, fallback_type))
        job_name = report.name
        subject = _VBR_SUBJECT.match(strip_subject_markers(mail.subject))
        if subject and "\\" not in job_name and subject.group("job").startswith(job_name + "\\"):
            # Backup copy: one mail per source job, named "CopyJob\SourceJob" in the subject.
            job_name = subject.group("job")
        if not job_name:
            raise ParseError("the Veeam report header has no job name")
        return _result(self.key, mail, report, backup_type, job_name, objects)


# --- Veeam Agent for Microsoft Windows / Linux (stand-alone) ------------------------------------


@dataclass
class VeeamAgentParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        report = _read_report(mail)
        product = f"{report.description} {mail.text_body[:2000]} {mail.html_body[:20000]}".lower()
        backup_type = "Agent for Linux" if "agent for linux" in product else "Agent for Windows"
        objects = _objects(report, "Machine")
        computer = objects[0].name if objects else None
        if computer is None:
            subject = _AGENT_SUBJECT.match(strip_subject_markers(mail.subject))
            computer = subject.group("computer") if subject else None
        # Stand-alone agents often share one sender and the default job name, so the computer
        # is part of the job's identity.
        job_name = f"{computer} - {report.name}" if computer and report.name else report.name
        if not job_name:
            raise ParseError("the Veeam Agent report header has no job name")
        return _result(self.key, mail, report, backup_type, job_name, objects)


# --- Veeam Backup for Microsoft 365 -------------------------------------------------------------


@dataclass
class VeeamM365Parser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        report = _read_report(mail)
        key = _kind_key(report.kind)
        backup_type = "Microsoft 365 Backup Copy Job" if "copy" in key else "Microsoft 365 Backup Job"
        objects = _objects(report, "Object")
        if not report.name:
            raise ParseError("the Veeam Backup for Microsoft 365 report header has no job name")
        return _result(self.key, mail, report, backup_type, report.name, objects)


VB365_PARSER = VeeamM365Parser(
    key="veeam_vb365",
    name="Veeam Backup for Microsoft 365",
    software=SOFTWARE,
    backup_types=("Microsoft 365 Backup Job", "Microsoft 365 Backup Copy Job"),
    rules=(
        MatchRule(body_contains="Veeam Backup for Microsoft 365"),
        # The product's name before 2022 (v6).
        MatchRule(body_contains="Veeam Backup for Microsoft Office 365"),
        # Default subject "[%JobResult%] %OrgName% - %JobName% (%ObjectCount% objects), %Issues% issues".
        MatchRule(subject_contains="objects), ",
                  subject_regex=r"^\W*(?:\w+:\s*)*\[(?:success|warning|failed)\] .+ - .+ \(\d+ objects\), \d+ issues?"),
    ),
    example="[Warning] example.onmicrosoft.com - Daily M365 Backup (250 objects), 1 issues",
)

AGENT_PARSER = VeeamAgentParser(
    key="veeam_agent",
    name="Veeam Agent for Windows / Linux (stand-alone)",
    software=SOFTWARE,
    backup_types=("Agent for Windows", "Agent for Linux"),
    rules=(
        MatchRule(body_contains="Veeam Agent for Microsoft Windows"),
        MatchRule(body_contains="Veeam Agent for Linux"),
    ),
    example="[Success] PC-0042 - Backup Job PC-0042 - 28-10-2024 10:15:02",
)

VBR_PARSER = VeeamBackupReplicationParser(
    key="veeam_vbr",
    name="Veeam Backup & Replication job report",
    software=SOFTWARE,
    backup_types=(
        "Backup Job", "Backup Copy Job", "Replication Job", "Agent Backup Job", "Agent Backup Policy",
        "File Backup Job", "Configuration Backup", "SureBackup Job", "Backup to Tape Job", "File to Tape Job",
    ),
    rules=(
        # The footer names the product; in HTML the ampersand is escaped.
        MatchRule(body_contains="Veeam Backup &amp; Replication"),
        MatchRule(body_contains="Veeam Backup & Replication"),
        # Footer-less reports (pasted, some forwards): the default subject (result in brackets, then
        # the object count in parentheses) plus the header. Other products also put "[Warning]" first.
        MatchRule(
            subject_regex=r"\[(?:success|warning|failed|error)\]\s*[^\[\s].*\(\d+ (?:vms?|objects?|machines?|hosts?|"
                          r"instances?|shares?|backups?|workloads?)\)",
            body_contains=" job: ",
        ),
    ),
    example="[Warning] Backup Job SRV01 (3 VMs) 1 issues",
)
