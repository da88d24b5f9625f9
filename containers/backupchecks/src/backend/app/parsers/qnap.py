"""QNAP Hybrid Backup Sync (HBS 3) job notifications, as sent by the QTS / QuTS hero Notification
Center.

Format facts (no vendor text found; see tests/fixtures/mails/qnap/SOURCES.md): the Notification
Center mails every event with the subject ``[<Severity>] [<App>] Notification from your device:
<NAS>`` (Italian installations: ``Notifica dal dispositivo``) and a body of ``Label: value`` lines
(NAS Name, Severity, Date/Time, App Name, Category, Message). The message is the event-log text,
e.g. ``[Hybrid Backup Sync] Started Sync job: "QNAP Dropbox".``, so the job kind and name come from
that sentence and the result from the severity plus the sentence's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import clean, label_value, mail_text, stated_datetime, strip_subject_markers, text_lines

SOFTWARE = "QNAP"
_I = re.IGNORECASE

_SUBJECT = re.compile(r"\[(?P<severity>[^\]]+)\]\s*\[(?P<app>[^\]]+)\]", _I)
_SEVERITY_LABELS = ("Severity", "Gravità", "Ernst", "Ernsthaftigkeit", "Ernst niveau", "Niveau")
_TIME_LABELS = ("Date/Time", "Data/Ora", "Datum/tijd", "Datum/Uhrzeit")
_MESSAGE_LABELS = ("Message", "Messaggio", "Bericht", "Nachricht", "Content")
_SEVERITIES: dict[str, Status] = {
    "info": "success",
    "information": "success",
    "informazioni": "success",
    "informatie": "success",
    "warning": "warning",
    "warn": "warning",
    "avviso": "warning",
    "waarschuwing": "warning",
    "warnung": "warning",
    "error": "failed",
    "errore": "failed",
    "fout": "failed",
    "fehler": "failed",
    "critical": "failed",
    "critico": "failed",
}
_JOB = re.compile(
    r"(?:(?P<kind>\b(?:backup|sync|restore|replication))\s+job"
    r"|\b(?:processo|job|lavoro) di (?P<kind_it>backup|sincronizzazione|ripristino|replica))"
    r"\s*:?\s*[\"“](?P<name>[^\"”]+)[\"”]",
    _I,
)
_ITALIAN_KINDS = {"backup": "Backup", "sincronizzazione": "Sync", "ripristino": "Restore", "replica": "Replication"}
_FAILED = re.compile(r"\bfail|\berror|could not|unable|aborted|errore|non riuscit|impossibile", _I)
_WARNING = re.compile(r"warning|with exceptions|skipped|avvis|partial", _I)
_DONE = re.compile(r"finish|complet|succe|voltooid|abgeschlossen|completat", _I)
_STARTED = re.compile(r"\bstarted\b|\bavviat[oa]\b|\bgestart\b|\bgestartet\b", _I)


@dataclass
class HybridBackupSyncParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        lines = text_lines(mail_text(mail))
        text = label_value(lines, _MESSAGE_LABELS) or next((line for line in lines if _JOB.search(line)), None)
        job = _JOB.search(text or "")
        if text is None or job is None:
            raise ParseError("no Hybrid Backup Sync job sentence (\"... job: \\\"<name>\\\"\") in the mail")
        subject = _SUBJECT.search(clean(strip_subject_markers(mail.subject)))
        severity_word = label_value(lines, _SEVERITY_LABELS) or (subject.group("severity") if subject else "")
        severity = _SEVERITIES.get(severity_word.strip().lower())
        started = bool(_STARTED.search(text))
        # The sentence wins over the severity: a job "failed" is failed even in an Info mail.
        if _FAILED.search(text):
            status: Status = "failed"
        elif _WARNING.search(text):
            status = "warning"
        elif severity is not None:
            status = severity
        elif started or _DONE.search(text):
            status = "success"
        else:
            raise ParseError(f"cannot tell the result of {text!r}")
        name = clean(job.group("name"))
        kind = job.group("kind").title() if job.group("kind") else _ITALIAN_KINDS[job.group("kind_it").lower()]
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=f"{kind} Job",
            job_name=name,
            overall_status=status,
            # A start notice is not a result; it must not teach the schedule anything.
            informational=started and status == "success",
            objects=(ParsedObject(name, "Job", status, text if status != "success" else None),),
            run_at=stated_datetime(label_value(lines, _TIME_LABELS), mail),
        )


HBS_PARSER = HybridBackupSyncParser(
    key="qnap_hybrid_backup_sync",
    name="QNAP Hybrid Backup Sync",
    software=SOFTWARE,
    backup_types=("Backup Job", "Sync Job", "Restore Job", "Replication Job"),
    rules=(
        MatchRule(subject_contains="[Hybrid Backup Sync]"),
        MatchRule(body_contains="[Hybrid Backup Sync]"),
    ),
    example="[Error] [Hybrid Backup Sync] Notification from your device: NAS01",
)
