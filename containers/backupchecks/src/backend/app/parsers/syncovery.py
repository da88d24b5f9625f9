"""Syncovery profile result mails.

NO FORMAT FACTS: no Syncovery mail, template or string table was found in the researched material
(shared/corpus/formats/other-closed-products.md lists Syncovery as not researched). This parser
reads the most plausible layout and is deliberately tolerant; confirm it against a real mail:

* subject containing "Syncovery" and the profile name, e.g. ``Syncovery: Nightly NAS - Completed
  successfully`` or ``Syncovery: Profile "Nightly NAS" completed with 2 errors``;
* body ``Label: value`` lines ``Profile:``, ``Result:``, ``Started:``, and ``Error …: text`` lines.

The result phrase decides the status (errors fail, warnings warn, "completed" succeeds); the
profile is the job and its one object.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult
from .common import label_value, stated_datetime, status_from_text, strip_subject_markers, text_lines
from .common_b import mail_text

SOFTWARE = "Syncovery"

_SUBJECT_QUOTED = re.compile(r"Profile\s*[\"'“](?P<name>[^\"'”]+)[\"'”]\s*(?P<result>.*)$", re.I)
_SUBJECT_DASHED = re.compile(r"Syncovery\s*[:\-–]\s*(?:Profile\s+)?(?P<name>.+?)\s+[-–:]\s+(?P<result>.+)$", re.I)
# Whole lines are kept: "Error copying D:\\x.xlsx: Access is denied" names the file before the cause.
_ERROR_LINE = re.compile(r"^(?:Error|Fehler|Fout)\b(?!s?:\s*\d+\s*$)", re.I)
_WARNING_LINE = re.compile(r"^(?:Warning|Warnung|Waarschuwing)\b(?!s?:\s*\d+\s*$)", re.I)


class SyncoveryParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = strip_subject_markers(" ".join((mail.subject or "").split()))
        lines = text_lines(mail_text(mail))
        from_subject = _SUBJECT_QUOTED.search(subject) or _SUBJECT_DASHED.search(subject)
        name = label_value(lines, ("Profile", "Profile name", "Profil")) or (
            from_subject["name"].strip() if from_subject else None
        )
        if not name:
            raise ParseError("cannot find the profile name (no 'Profile:' line, no name in the subject)")
        result = label_value(lines, ("Result", "Status", "Ergebnis")) or (
            from_subject["result"] if from_subject else None
        )
        status = status_from_text(result) or status_from_text(subject)
        if status is None:
            raise ParseError(f"cannot read a result from {result or subject!r}")

        errors = [line for line in lines if _ERROR_LINE.match(line)]
        warnings = [line for line in lines if _WARNING_LINE.match(line)]
        if status == "failed":
            error = "\n".join(errors or warnings) or result
        elif status == "warning":
            error = "\n".join(warnings or errors) or result
        else:
            error = None
        started = label_value(lines, ("Started", "Start time", "Gestartet", "Begonnen"))
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Profile",
            job_name=name,
            overall_status=status,
            objects=(ParsedObject(name=name, type="Profile", status=status, error=error),),
            run_at=stated_datetime(started, mail) if started else None,
        )


SYNCOVERY_PARSER = SyncoveryParser(
    key="syncovery",
    name="Syncovery profile result (assumed layout)",
    software=SOFTWARE,
    backup_types=("Profile",),
    rules=(
        MatchRule(subject_contains="Syncovery"),
        MatchRule(from_contains="syncovery"),
    ),
    example="Syncovery: Nightly NAS - Completed successfully",
)
