"""Windows Server Backup, as reported by the common scheduled-task mail script.

Windows Server Backup sends no mail itself. Format facts: shared/corpus/formats/other-closed-products.md
(a third-party script pattern: a task triggered by the Microsoft-Windows-Backup success/failure
events sends ``<hostname> - Backup Success|Failure`` with the body ``A backup on <hostname> has
succeeded.``). Every script differs, so the parser only takes mails that carry both the subject
pattern and that body sentence; anything else stays unparsed rather than half-read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import strip_subject_markers
from .common_b import mail_text

SOFTWARE = "Windows Server Backup"

_SUBJECT = re.compile(r"^(?P<host>\S+) - Backup (?P<result>Success|Succeeded|Failure|Failed|Warning)\s*$", re.I)
_SENTENCE = re.compile(r"A backup on (?P<host>\S+?) has (?P<result>succeeded|failed|completed with warnings)\.?", re.I)
# The event text the scripts paste carries the start time in UTC ('2025-03-05T22:00:03.411Z').
_STARTED = re.compile(r"started at '(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z'")
_STATUS: dict[str, Status] = {
    "success": "success",
    "succeeded": "success",
    "warning": "warning",
    "completed with warnings": "warning",
    "failure": "failed",
    "failed": "failed",
}


class WindowsServerBackupScriptParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _SUBJECT.search(strip_subject_markers(" ".join((mail.subject or "").split())))
        text = mail_text(mail)
        sentence = _SENTENCE.search(text)
        if not subject or not sentence:
            raise ParseError("needs the subject '<host> - Backup Success|Failure' and 'A backup on <host> has …'")
        # The body sentence is written by the script from the event; the subject may be edited.
        status = _STATUS[sentence["result"].lower()]
        host = subject["host"]
        details = [line.strip() for line in text[sentence.end() :].split("\n") if line.strip()]
        error = details[0] if status != "success" and details else None
        if status != "success" and error is None:
            error = sentence.group(0)
        started = _STARTED.search(text)
        run_at = None
        if started:
            try:
                run_at = datetime.fromisoformat(started["stamp"]).replace(tzinfo=UTC)
            except ValueError:
                run_at = None
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Backup",
            job_name=host,
            overall_status=status,
            objects=(ParsedObject(name=host, type="Server", status=status, error=error),),
            run_at=run_at,
        )


WSB_SCRIPT_PARSER = WindowsServerBackupScriptParser(
    key="windows_server_backup_script",
    name="Windows Server Backup (scheduled-task mail script)",
    software=SOFTWARE,
    backup_types=("Backup",),
    rules=(
        MatchRule(
            subject_regex=r"(?:^|:\s*)\S+ - Backup (?:Success|Succeeded|Failure|Failed|Warning)\s*$",
            body_contains="A backup on ",
        ),
    ),
    example="SRV01 - Backup Success",
)
