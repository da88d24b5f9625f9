"""BackupPC: the nightly problem mails (English, Dutch, German) and mailed server logs.

Format facts: shared/corpus/formats/backuppc.md (``bin/BackupPC_sendEmail`` and
``lib/BackupPC/Lang/{en,nl,de}.pm``) and shared/corpus/raw/backuppc (a server LOG excerpt as mailed).

BackupPC never mails a successful backup: ``BackupPC_sendEmail`` reports hosts without a (recent)
backup to their users, locked Outlook files, and host errors to the admin. These mails arrive only
when something is wrong, never on a schedule, so every result is informational. A mailed server
LOG (cron, logwatch) is informational too: it lists the backups the server ran, not one job.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import local_time, mail_text, worst

SOFTWARE = "BackupPC"

# (pattern, status): never backed up fails; no recent backup and locked Outlook files warn.
_USER_SUBJECTS: tuple[tuple[re.Pattern[str], Status], ...] = (
    (re.compile(r"BackupPC: no backups of (?P<host>\S+) have succeeded", re.I), "failed"),
    (re.compile(r"BackupPC: Er werd \(nog\) geen backup gemaakt van pc (?P<host>\S+)", re.I), "failed"),
    (re.compile(r"Backup(?:PC|Server): keine Backups von (?P<host>\S+) waren erfolgreich", re.I), "failed"),
    (re.compile(r"BackupPC: no recent backups on (?P<host>\S+)", re.I), "warning"),
    (re.compile(r"BackupPC: er zijn recentelijk geen backups \(meer\) gemaakt van pc (?P<host>\S+)", re.I), "warning"),
    (re.compile(r"Backup(?:PC|Server): keine neuen Backups für Computer (?P<host>\S+)", re.I), "warning"),
    (re.compile(r"BackupPC: Outlook files on (?P<host>\S+) need to be backed up", re.I), "warning"),
    (re.compile(r"BackupPC: Outlookbestanden op pc (?P<host>\S+) moeten gebackupt worden", re.I), "warning"),
    (
        re.compile(r"Backup(?:PC|Server): Outlook-Dateien auf Computer (?P<host>\S+) - Sicherung erforderlich", re.I),
        "warning",
    ),
)
_ADMIN_SUBJECT = re.compile(r"BackupPC administrative attention needed", re.I)
_SERVER_DOWN = re.compile(r"BackupPC: can't connect to server", re.I)
_BAD_HOST = re.compile(r"^\s+- (?P<host>[^\s(]+) \((?P<error>.*)\)\s*$", re.M)
_SKIPPED = re.compile(r"^Yesterday \d+ hosts were skipped because the file system containing\s.*?\.", re.M | re.S)
_BOGUS = re.compile(r"^The following directories are bogus", re.M)
# The body sentence that states the problem is the first paragraph line naming the host.
_SENTENCE_END = re.compile(r"\.(?:\s|$)")


def _problem_sentence(text: str, host: str) -> str | None:
    """The sentence of the body that states the problem, joined across its wrapped lines."""
    for paragraph in re.split(r"\n\s*\n", text):
        joined = " ".join(line.strip() for line in paragraph.split("\n") if line.strip())
        if f"({host})" in joined or "Outlook" in joined:
            end = _SENTENCE_END.search(joined)
            return joined[: end.start() + 1] if end else joined
    return None


class BackupPcParser(Parser):
    """The nightly user and admin mails."""

    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = " ".join((mail.subject or "").split())
        text = mail_text(mail)
        for pattern, status in _USER_SUBJECTS:
            match = pattern.search(subject)
            if match:
                host = match["host"]
                sentence = _problem_sentence(text, host)
                return ParseResult(
                    parser_key=self.key,
                    backup_software=SOFTWARE,
                    backup_type="Host notice",
                    job_name=host,
                    overall_status=status,
                    informational=True,
                    objects=(ParsedObject(name=host, type="Host", status=status, error=sentence),),
                )
        if _ADMIN_SUBJECT.search(subject):
            objects = tuple(
                ParsedObject(name=m["host"], type="Host", status="failed", error=m["error"])
                for m in _BAD_HOST.finditer(text)
            )
            skipped = _SKIPPED.search(text)
            message = " ".join(skipped.group(0).split()) if skipped else None
            if message is None and _BOGUS.search(text):
                message = "Bogus directories found under the pc directory"
            if not objects and message is None:
                raise ParseError("admin mail lists no host error, skipped hosts or bogus directories")
            return ParseResult(
                parser_key=self.key,
                backup_software=SOFTWARE,
                backup_type="Admin notice",
                job_name="BackupPC server",
                overall_status="failed" if objects else "warning",
                informational=True,
                objects=objects,
                message=message,
            )
        if _SERVER_DOWN.search(subject):
            line = next((ln.strip() for ln in text.split("\n") if ln.strip()), None)
            return ParseResult(
                parser_key=self.key,
                backup_software=SOFTWARE,
                backup_type="Admin notice",
                job_name="BackupPC server",
                overall_status="failed",
                informational=True,
                message=line,
            )
        raise ParseError("subject is not one of BackupPC's nightly mails (custom $Conf{EMail…Subj}?)")


_LOG_LINE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d) (?P<event>.*)$", re.M
)
_LOG_EVENT = re.compile(
    r"^(?:Finished (?P<kind>incr|full) backup on (?P<done>\S+)|Backup failed on (?P<failed>\S+) \((?P<error>.*)\)"
    r"|Backup canceled on (?P<canceled>\S+)(?: \((?P<reason>.*)\))?)$"
)
_LOG_ANY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:Started|Finished) (?:incr|full) backup on ", re.M)


class BackupPcLogParser(Parser):
    """A BackupPC server LOG mailed by cron or logwatch (informational)."""

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and not _LOG_ANY.search(mail_text(mail)):
            return "body has no BackupPC LOG lines ('<date> <time> Started|Finished incr|full backup on')"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        text = mail_text(mail)
        lines = list(_LOG_LINE.finditer(text))
        if not lines:
            raise ParseError("no BackupPC LOG lines in the body")
        hosts: dict[str, ParsedObject] = {}
        for line in lines:
            event = _LOG_EVENT.match(line["event"].strip())
            if not event:
                continue
            if event["done"]:
                host = event["done"]
                # A later success after a failure on the same night still leaves the failure visible.
                if host not in hosts:
                    hosts[host] = ParsedObject(name=host, type="Host", status="success")
            else:
                host = event["failed"] or event["canceled"]
                hosts[host] = ParsedObject(
                    name=host, type="Host", status="failed", error=event["error"] or event["reason"]
                )
        first = lines[0]
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Server log",
            job_name="BackupPC server log",
            overall_status=worst(o.status for o in hosts.values()),
            informational=True,
            objects=tuple(hosts.values()),
            run_at=local_time(mail, *(int(first[k]) for k in ("y", "mo", "d", "h", "mi", "s"))),
        )


BACKUPPC_LOG_PARSER = BackupPcLogParser(
    key="backuppc_log",
    name="BackupPC server log (mailed)",
    software=SOFTWARE,
    backup_types=("Server log",),
    rules=(MatchRule(body_contains=" backup on "),),
    example="2025-03-04 02:01:09 Finished incr backup on srv01",
    informational=True,
)

BACKUPPC_PARSER = BackupPcParser(
    key="backuppc",
    name="BackupPC nightly notices (EN/NL/DE)",
    software=SOFTWARE,
    backup_types=("Host notice", "Admin notice"),
    # "BackupPC test email" (BackupPC_sendEmail -u) has no colon and stays unparsed on purpose.
    rules=(
        MatchRule(subject_regex=r"^Backup(?:PC|Server):"),
        MatchRule(subject_contains="BackupPC administrative attention needed"),
    ),
    example="BackupPC: no recent backups on laptop01",
    informational=True,
)
