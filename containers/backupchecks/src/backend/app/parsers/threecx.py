"""3CX phone system notifications: backup results (a regular job) and the informational Update and
SSL Certificate notices.

Format facts: shared/corpus/formats/3cx.md. The subject is
``3CX Notification: <event title> - <PBX FQDN> - <short event text>`` (one real subject quoted;
the text part can be missing, as in ``3CX Notification: Update Successful - <host>``). Templates
are editable and sometimes translated per installation, so the event title is matched on words in
several languages and the body only supplies detail. The PBX host is the job: one backup schedule
per PBX, and the 3CX mail service may send every customer's mails from one address.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import clean, mail_text, strip_subject_markers, text_lines

SOFTWARE = "3CX"
_I = re.IGNORECASE

_SUBJECT = re.compile(
    r"3CX Notification\s*:\s*(?P<title>.+?)\s+-\s+(?P<host>[\w-]+(?:\.[\w-]+)*)(?:\s+-\s+(?P<text>.*))?$", _I
)
_FAILED = re.compile(r"fail|error|unsuccessful|not successful|mislukt|fout|fehlgeschlagen|fehler|could not|unable", _I)
_WARNING = re.compile(r"warn|expir|verloopt|läuft .*ab|waarschuwing|warnung", _I)
_SUCCESS = re.compile(r"success|succeeded|complete|renewed|finished|voltooid|geslaagd|gelukt|erfolgreich|"
                      r"abgeschlossen|erneuert|vernieuwd", _I)
# Lines of a 3CX body that are chrome, not event text.
_CHROME = re.compile(r"^(?:3CX Notification|dear|hello|hi\b|beste|hallo|this is an automated|regards|"
                     r"kind regards|met vriendelijke|mit freundlichen|the 3CX team|https?://)", _I)


def _event(mail: NormalizedMail) -> re.Match[str] | None:
    return _event_of(mail.subject)


@functools.lru_cache(maxsize=16)
def _event_of(subject: str) -> re.Match[str] | None:
    # Three registry entries read the same subject in a row.
    return _SUBJECT.search(clean(strip_subject_markers(subject)))


@functools.lru_cache(maxsize=16)
def _title_regex(pattern: str) -> re.Pattern[str]:
    # Compiled once per entry: re.search(pattern, ..., flags) looks the pattern up on every call.
    return re.compile(pattern, _I)


def _status(text: str) -> Status | None:
    if _FAILED.search(text):
        return "failed"
    if _WARNING.search(text):
        return "warning"
    if _SUCCESS.search(text):
        return "success"
    return None


def _event_text(match: re.Match[str], mail: NormalizedMail) -> str | None:
    """The short event text: the subject's third part, else the first line of the body that says
    something (the template puts the event sentence first)."""
    if match.group("text"):
        return clean(match.group("text"))
    for line in text_lines(mail_text(mail)):
        if not _CHROME.match(line) and line.lower() != match.group("title").lower():
            return line
    return None


@dataclass
class ThreeCXParser(Parser):
    # Which kind of event this entry handles; the title decides, so one subject form serves all.
    title_pattern: str = ""
    backup_type: str = ""

    def matches(self, mail: NormalizedMail) -> bool:
        if not any(rule.holds(mail) for rule in self.rules):
            return False
        match = _event(mail)
        return match is not None and _title_regex(self.title_pattern).search(match.group("title")) is not None

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is not None:
            return reason
        match = _event(mail)
        if match is None:
            return "subject is not \"3CX Notification: <event> - <host>[ - <text>]\""
        if not _title_regex(self.title_pattern).search(match.group("title")):
            return f"event title {match.group('title')!r} is not a 3CX {self.backup_type} event"
        return None

    def parse(self, mail: NormalizedMail) -> ParseResult:
        match = _event(mail)
        if match is None:
            raise ParseError("subject is not \"3CX Notification: <event> - <host>[ - <text>]\"")
        title, host = clean(match.group("title")), match.group("host").lower()
        text = _event_text(match, mail)
        status = _status(title) or _status(text or "")
        if status is None:
            if not self.informational:
                # A backup event we cannot read must not pass as a result.
                raise ParseError(f"unknown 3CX backup event {title!r}")
            status = "warning"
        error = text if status != "success" else None
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=self.backup_type,
            job_name=host,
            overall_status=status,
            informational=self.informational,
            objects=(ParsedObject(host, "PBX", status, error),),
        )


_RULE = (MatchRule(subject_contains="3CX Notification"),)

UPDATE_PARSER = ThreeCXParser(
    key="3cx_update",
    name="3CX update notice",
    software=SOFTWARE,
    backup_types=("Update",),
    rules=_RULE,
    example="3CX Notification: Update Successful - pbx.example.com",
    informational=True,
    title_pattern=r"\bupdate|bijwerk|aktualisierung",
    backup_type="Update",
)

SSL_CERTIFICATE_PARSER = ThreeCXParser(
    key="3cx_ssl_certificate",
    name="3CX SSL certificate notice",
    software=SOFTWARE,
    backup_types=("SSL Certificate",),
    rules=_RULE,
    example="3CX Notification: SSL Certificate Renewal - pbx.example.com - The SSL Certificate was "
            "automatically renewed for the next 90 days",
    informational=True,
    title_pattern=r"\bSSL\b|certificate|certificaat|zertifikat",
    backup_type="SSL Certificate",
)

BACKUP_PARSER = ThreeCXParser(
    key="3cx_backup",
    name="3CX backup",
    software=SOFTWARE,
    backup_types=("Backup",),
    rules=_RULE,
    example="3CX Notification: Backup Failed - pbx.example.com - Backup failed: not enough disk space",
    title_pattern=r"back-?up|sicherung",
    backup_type="Backup",
)
