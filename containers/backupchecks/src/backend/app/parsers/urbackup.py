"""UrBackup server report mails (the default report script).

Format facts: shared/corpus/formats/urbackup.md (uroni/urbackup_backend ``urbackupserver/report.lua``).

The default script puts a newline between the client name and `` - success|failed`` in the
subject. Depending on the mail library that becomes a folded header (unfolded to one line by the
normaliser), a subject with embedded white space, or a subject cut off before the result; in the
last case the body's ``( n infos, n warnings, n errors)`` counts decide.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import local_time, mail_text

SOFTWARE = "UrBackup"

_SUBJECT = re.compile(
    r"UrBackup:\s*(?P<kind>Resumed incremental|Resumed full|Incremental|Full)\s+(?P<what>file|image)\s+"
    r"backup of \"(?P<client>[^\"]*)\"(?:\s*-\s*(?P<result>success|failed))?",
    re.I,
)
_BODY = re.compile(
    r"UrBackup just did an? (?:resumed )?(?P<kind>incremental|full)\s+(?P<what>file|image)\s+"
    r"backup of \"(?P<client>[^\"]*)\"",
    re.I,
)
_COUNTS = re.compile(r"\(\s*(?P<infos>\d+) infos?, (?P<warnings>\d+) warnings?, (?P<errors>\d+) errors?\)")
_LOG = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)\((?P<level>info|warning|error)\): "
    r"(?P<msg>.*)$",
    re.M,
)


class UrBackupParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _SUBJECT.search(" ".join((mail.subject or "").split()))
        text = mail_text(mail)
        body = _BODY.search(text)
        source = subject or body
        if not source:
            raise ParseError("neither subject nor body names the client ('backup of \"<client>\"')")
        client = source["client"]
        what = source["what"].lower()

        counts = _COUNTS.search(text)
        warnings = int(counts["warnings"]) if counts else 0
        errors = int(counts["errors"]) if counts else 0
        log = list(_LOG.finditer(text))
        error_lines = [m["msg"].strip() for m in log if m["level"] == "error"]
        warning_lines = [m["msg"].strip() for m in log if m["level"] == "warning"]

        result = subject["result"] if subject and subject["result"] else None
        status: Status
        if result:
            failed = result.lower() == "failed"
            status = "failed" if failed else "warning" if warnings or warning_lines else "success"
        elif counts or log:
            # The subject lost its result (cut at the script's newline): the counts decide.
            status = "failed" if errors or error_lines else "warning" if warnings or warning_lines else "success"
        else:
            raise ParseError("the subject has no '- success|failed' and the body no report counts")

        if status == "failed":
            error = "\n".join(error_lines) or None
        elif status == "warning":
            error = "\n".join(warning_lines) or None
        else:
            error = None
        first = log[0] if log else None
        run_at = local_time(mail, *(int(first[k]) for k in ("y", "mo", "d", "h", "mi", "s"))) if first else None
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Image Backup" if what == "image" else "File Backup",
            job_name=client,
            overall_status=status,
            objects=(ParsedObject(name=client, type="Client", status=status, error=error),),
            run_at=run_at,
        )


URBACKUP_PARSER = UrBackupParser(
    key="urbackup",
    name="UrBackup backup report",
    software=SOFTWARE,
    backup_types=("File Backup", "Image Backup"),
    rules=(
        MatchRule(subject_regex=r"^UrBackup:"),
        MatchRule(body_contains="UrBackup just did"),
    ),
    example='UrBackup: Incremental file backup of "PC-01" - success',
)
