"""Acronis Cyber Protect (Cloud) backup notifications.

PARTIAL FACTS: shared/corpus/formats/other-closed-products.md documents the sender
(``noreply-abc@cloud.acronis.com`` or a partner's branded address) and the notification kinds
"Backup failed", "Backup succeeded with warnings", "Backup succeeded" and "Daily recap about active
alerts"; a third-party German parser relies on the subject words "erfolgreich" / "WARNUNGEN", skips
"Statusbericht" mails and reads "Plan-Name" and "Backup-Dauer" from the body. No mail layout was
found, so this parser assumes the most plausible one and says so: an HTML table (or text lines) of
label/value pairs such as Device / Plan name / Started / Error, in English or German.

The protection plan is the job and the device the object, as with an agent policy. The daily
recap is informational: it repeats open alerts, it does not report a run.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import clean, html_rows, label_value, stated_datetime, strip_subject_markers, text_lines
from .common_b import mail_text, parse_html

SOFTWARE = "Acronis Cyber Protect"

# Checked in order: the warning and failure phrases contain the success word.
_SUBJECT_STATUS: tuple[tuple[re.Pattern[str], Status | None], ...] = (
    (re.compile(r"daily recap|Statusbericht|t[äa]gliche Zusammenfassung", re.I), None),
    (re.compile(r"succeeded with warnings|with warnings|WARNUNGEN|mit Warnungen", re.I), "warning"),
    (re.compile(r"\bfailed\b|fehlgeschlagen|\bError\b|\bFehler\b", re.I), "failed"),
    (re.compile(r"succeeded|successful|erfolgreich", re.I), "success"),
)
_PLAN_LABELS = ("Plan name", "Plan-Name", "Protection plan", "Schutzplan", "Plan")
_DEVICE_LABELS = ("Device", "Gerät", "Workload", "Machine", "Computer", "Maschine")
_START_LABELS = ("Started", "Start time", "Backup started", "Gestartet", "Startzeit")
_ERROR_LABELS = ("Error", "Error message", "Details", "Fehler", "Fehlermeldung", "Warning", "Warnung")
_ALERT_COUNT = re.compile(r"(?P<n>\d+)\s+(?:(?:active|aktive)\s+)?(?:alerts?|Warnmeldungen|Alarme)", re.I)


def _pairs(mail: NormalizedMail) -> list[str]:
    """Label/value lines: two-cell HTML rows become "label: value", text lines are kept."""
    root = parse_html(mail.html_body or "", lean=True)
    lines: list[str] = []
    if root is not None:
        for row in html_rows(root):
            cells = [c for c in row if c]
            if len(cells) == 2:
                lines.append(f"{cells[0].rstrip(':')}: {cells[1]}")
            elif cells:
                lines.append(clean(" ".join(cells)))
    if not lines:
        lines = text_lines(mail_text(mail))
    return lines


class AcronisParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = strip_subject_markers(" ".join((mail.subject or "").split()))
        found = next((entry for entry in _SUBJECT_STATUS if entry[0].search(subject)), None)
        if found is None:
            raise ParseError("subject states no backup result (succeeded / with warnings / failed)")
        status = found[1]
        lines = _pairs(mail)

        if status is None:
            count = _ALERT_COUNT.search(" ".join(lines))
            active = int(count["n"]) if count else 0
            return ParseResult(
                parser_key=self.key,
                backup_software=SOFTWARE,
                backup_type="Daily recap",
                job_name="Daily recap",
                overall_status="warning" if active else "success",
                informational=True,
                message=count.group(0) if count else None,
            )

        plan = label_value(lines, _PLAN_LABELS)
        device = label_value(lines, _DEVICE_LABELS)
        if not plan and not device:
            raise ParseError("no plan name and no device in the body")
        error = label_value(lines, _ERROR_LABELS) if status != "success" else None
        started = label_value(lines, _START_LABELS)
        objects = (ParsedObject(name=device, type="Device", status=status, error=error),) if device else ()
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Backup",
            job_name=plan or device or "",
            overall_status=status,
            objects=objects,
            run_at=stated_datetime(started, mail) if started else None,
            message=error if not objects else None,
        )


ACRONIS_PARSER = AcronisParser(
    key="acronis_cyber_protect",
    name="Acronis Cyber Protect backup notification (assumed layout)",
    software=SOFTWARE,
    backup_types=("Backup", "Daily recap"),
    rules=(
        MatchRule(from_contains="acronis"),
        MatchRule(subject_contains="Acronis"),
        # Partner-branded tenants send from their own address: the body's plan label decides.
        MatchRule(subject_regex=r"Backup (?:succeeded|failed)", body_contains="Plan name"),
        MatchRule(subject_regex=r"erfolgreich|WARNUNGEN|fehlgeschlagen", body_contains="Plan-Name"),
    ),
    example="Backup succeeded: Nightly servers on SRV01",
)
