"""NAKIVO Backup & Replication job reports.

Format facts: shared/corpus/formats/nakivo.md, which is *inferred*: no vendor text of the mail was
found. What is known: an HTML job report whose subject names the job and its result
(successful / failed / stopped / partially succeeded), a summary block (job name, job type such
as "Backup job for VMware" or "Replication job for Hyper-V", start, finish, duration, data
transferred) and a per-VM table with a status. So this parser reads labels and tables by meaning
(any "label: value" pair, any table with a name column and a status column) rather than by
position, keys on the product name in the body (the subject is configurable), and takes the job
name from the subject's quotes only when the body lacks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import (
    clean,
    html_rows,
    label_value,
    stated_datetime,
    status_from_text,
    strip_subject_markers,
    text_lines,
    worst,
)
from .normalize import element_text, parse_html

SOFTWARE = "NAKIVO"
_I = re.IGNORECASE

_JOB_LABELS = ("Job name", "Job")
_TYPE_LABELS = ("Job type", "Type")
_STATUS_LABELS = ("Job status", "Status", "Result", "Job result")
_START_LABELS = ("Started", "Start time", "Job started", "Start")
_MESSAGE_LABELS = ("Error", "Errors", "Job error", "Reason", "Message")
_NAME_COLUMNS = ("vm", "vms", "name", "source", "virtual machine", "machine", "physical machine", "object",
                 "item", "instance", "account")
_DETAIL_COLUMNS = ("details", "detail", "message", "messages", "error", "errors", "alarms", "description", "reason")
_JOB_TYPE = re.compile(
    r"\b((?:Backup Copy|Backup|Replication|Site Recovery|Failover|Failback|Backup to tape)\s+job\s+for\s+"
    r"[A-Za-z0-9][\w .-]*?)(?=\s*(?:$|[\n.,;:|)]))",
    _I,
)
_QUOTED = re.compile(r"[\"'“‘](?P<name>[^\"'”’]+)[\"'”’]")
# NAKIVO's own word for a run an operator or timeout ended early.
_STOPPED = re.compile(r"\bstopped\b|\binterrupted\b", _I)
_OBJECT_TYPE_BY_PLATFORM = (
    ("microsoft 365", "Account"),
    ("physical", "Machine"),
    ("ec2", "Instance"),
    ("file share", "Share"),
)


def _status(text: str | None) -> Status | None:
    if text and _STOPPED.search(text):
        return "failed"
    return status_from_text(text)


@dataclass
class _Table:
    name_col: int
    status_col: int
    detail_col: int | None
    rows: list[list[str]]


def _find_table(rows: list[list[str]]) -> _Table | None:
    for index, row in enumerate(rows):
        # A heading row has a cell that reads "status": its lower-cased text holds the word.
        if len(row) < 2 or "status" not in "\t".join(row).lower():
            continue
        header = [clean(cell).lower().rstrip(":") for cell in row]
        if "status" not in header:
            continue
        name_col = next((i for i, cell in enumerate(header) if cell in _NAME_COLUMNS), None)
        if name_col is None:
            continue
        detail_col = next((i for i, cell in enumerate(header) if cell in _DETAIL_COLUMNS), None)
        body = []
        for candidate in rows[index + 1:]:
            if len(candidate) != len(header):
                break
            body.append(candidate)
        return _Table(name_col, header.index("status"), detail_col, body)
    return None


@dataclass
class NakivoParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        root = parse_html(mail.html_body, lean=True)
        rows = html_rows(root) if root is not None else []
        # Label/value pairs come from two-cell rows in HTML, from "Label: value" lines in text.
        lines = [f"{clean(row[0]).rstrip(':')}: {clean(row[1])}" for row in rows if len(row) == 2]
        if (mail.text_body and not mail.text_body.isspace()) or root is None:
            lines += text_lines(mail.text_body)
        job_name, status_text = label_value(lines, _JOB_LABELS), label_value(lines, _STATUS_LABELS)
        if root is not None and not (job_name and status_text):
            # Not the usual summary table: read the whole document (same tree, no second parse).
            lines += text_lines(element_text(root))
            job_name, status_text = label_value(lines, _JOB_LABELS), label_value(lines, _STATUS_LABELS)
        subject = clean(strip_subject_markers(mail.subject))

        if not job_name:
            quoted = _QUOTED.search(subject)
            job_name = quoted.group("name").strip() if quoted else None
        if not job_name:
            raise ParseError("no job name in the NAKIVO report (no \"Job name\" label, no quoted name in the subject)")

        job_type = label_value(lines, _TYPE_LABELS)
        if not (job_type and _JOB_TYPE.search(job_type)):
            found = _JOB_TYPE.search("\n".join(lines))
            job_type = found.group(1) if found else job_type
        backup_type = clean(job_type) if job_type else "Backup job"
        object_type = next((kind for needle, kind in _OBJECT_TYPE_BY_PLATFORM if needle in backup_type.lower()), "VM")

        objects: list[ParsedObject] = []
        table = _find_table(rows)
        for row in table.rows if table else []:
            name = clean(row[table.name_col])
            if not name:
                continue
            # html_rows() lines are already non-empty and collapsed: the cell is its own text_lines().
            detail = row[table.detail_col] if table.detail_col is not None else ""
            objects.append(ParsedObject(name, object_type, _status(row[table.status_col]) or "failed", detail or None))

        status = _status(status_text) or _status(subject)
        if status is None:
            if not objects:
                raise ParseError("the NAKIVO report states no result and lists no objects")
            status = worst(o.status for o in objects)
        message = label_value(lines, _MESSAGE_LABELS)
        if not objects and message and status == "success":
            # A job-level error with nothing processed is not a success, whatever the header says.
            status = "warning"
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=backup_type,
            job_name=clean(job_name),
            overall_status=status,
            objects=tuple(objects),
            run_at=stated_datetime(label_value(lines, _START_LABELS), mail),
            message=message,
        )


NAKIVO_PARSER = NakivoParser(
    key="nakivo_job",
    name="NAKIVO Backup & Replication job report",
    software=SOFTWARE,
    backup_types=("Backup job for VMware", "Backup job for Hyper-V", "Replication job for VMware",
                  "Backup Copy job", "Backup job for Microsoft 365", "Backup job for physical machines"),
    rules=(
        MatchRule(body_contains="NAKIVO Backup"),
        MatchRule(from_contains="nakivo"),
    ),
    example="Job \"Daily VM Backup\" has failed",
)
