"""Synology DSM: Hyper Backup, Active Backup for Business / Microsoft 365, Snapshot Replication,
USB Copy, and the informational DSM update, package and account-protection notices.

Format facts: shared/corpus/formats/synology.md. The DSM string tables (``texts/<lang>/mails``,
DSM 6.0 and 6.2.3) give the exact English, Dutch and German subjects and bodies; Active Backup's
wording is only known from third-party quotes of real subjects (Italian, Danish). DSM sends from
whatever account the customer configured, so every match is on wording, never on the sender.

Each NAS writes in its own notification language, and DSM 7 can put a prefix (often the hostname)
in front of the subject, so subject patterns search rather than anchor, and partial-success
phrases are tested before success phrases (they contain them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import clean, label_value, mail_text, required_literal, stated_datetime, strip_subject_markers, text_lines

SOFTWARE = "Synology"
_I = re.IGNORECASE

# The greeting ends the header part of a DSM body, the closing ends the message.
_GREETING = re.compile(
    r"^(?:dear user|beste gebruiker|sehr geehrte[r]? benutzer|gentile utente|kære bruger|hi\b|hallo\b|hello\b|hoi\b)",
    _I,
)
_CLOSING = re.compile(
    r"^(?:sincerely|met vriendelijke groeten|mit freundlichen gr(?:ü|ue)(?:ß|ss)en|best regards|cordiali saluti|"
    r"(?:from|van|von|da|fra) \S+$)",
    _I,
)
# DSM 6.2 signs with the host: "From nas01" / "Van nas01" / "Von nas01".
_SIGNATURE = re.compile(r"^(?:from|van|von|da|fra)\s+(?P<host>[\w.-]+)$", _I)


def _lines(mail: NormalizedMail) -> list[str]:
    return text_lines(mail_text(mail))


def _message(lines: list[str], labels: tuple[str, ...] = ()) -> list[str]:
    """The sentences of a DSM body: after the (last) greeting, before the labels or the closing."""
    start = 0
    for index, line in enumerate(lines):
        if _GREETING.match(line):
            start = index + 1
    lowered_labels = tuple(label.lower() for label in labels)
    sentences = []
    for line in lines[start:]:
        if _CLOSING.match(line) or (lowered_labels and line.lower().startswith(lowered_labels)):
            break
        sentences.append(line)
    return sentences


def _signature_host(lines: list[str]) -> str | None:
    for line in reversed(lines):
        match = _SIGNATURE.match(line)
        if match:
            return match.group("host")
    return None


def _subject(mail: NormalizedMail) -> str:
    return clean(strip_subject_markers(mail.subject))


def _error(status: Status, sentences: list[str]) -> str | None:
    if status == "success":
        return None
    return "\n".join(sentences) or None


def _first_event(subject: str, patterns: tuple[re.Pattern[str], ...],
                 literals: tuple[str, ...]) -> tuple[int, re.Match[str]] | None:
    """The first of ``patterns`` that matches ``subject`` (its index and match). There are dozens of
    case-insensitive patterns, which ``re`` tries at every position; on a plain ASCII subject, one
    whose plain text (common.required_literal) the subject lacks is not tried (beyond ASCII the
    case rules are wider than lower())."""
    lowered = subject.lower() if subject.isascii() else None
    for index, (pattern, literal) in enumerate(zip(patterns, literals, strict=True)):
        if lowered is not None and literal not in lowered:
            continue
        match = pattern.search(subject)
        if match:
            return index, match
    return None


# --- Hyper Backup --------------------------------------------------------------------------------

_HB_RESULTS: dict[str, Status] = {
    "partially successful": "warning",
    "gedeeltelijk voltooid": "warning",
    "teilweise erfolgreich": "warning",
    "successful": "success",
    "voltooid": "success",
    "erfolgreich": "success",
    "failed": "failed",
    "mislukt": "failed",
    "fehlgeschlagen": "failed",
    # A cancelled backup protected nothing.
    "canceled": "failed",
    "cancelled": "failed",
    "geannuleerd": "failed",
    "abgebrochen": "failed",
}
# "%TASK_TYPE% - %TASK_NAME% <result> on %HOSTNAME%"; the alternation lists partial phrases first.
_HB_SUBJECT = re.compile(
    r"(?:^|\s)-\s+(?P<task>.+?)\s+(?P<result>"
    + "|".join(re.escape(word) for word in _HB_RESULTS)
    + r")\s+(?:on|op|auf)\s+(?P<host>\S+)\s*$",
    _I,
)
_HB_TASK_LABELS = ("Backup Task", "Back-uptaak", "Datensicherungsaufgabe")
_HB_START_LABELS = ("Start Time", "Starttijd", "Startzeit")
_HB_ALL_LABELS = (
    *_HB_TASK_LABELS, *_HB_START_LABELS, "Backup Destination", "Back-updoel", "Datensicherungsziel",
    "Duration", "Duur", "Dauer",
)


@dataclass
class HyperBackupParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _HB_SUBJECT.search(_subject(mail))
        if subject is None:
            raise ParseError("subject is not \"<type> - <task> <result> on <host>\" in English, Dutch or German")
        status = _HB_RESULTS[subject.group("result").lower()]
        lines = _lines(mail)
        task = label_value(lines, _HB_TASK_LABELS) or subject.group("task")
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            # %TASK_TYPE% is localised and varies per destination; the product name is stable.
            backup_type="Hyper Backup",
            job_name=task,
            overall_status=status,
            objects=(ParsedObject(task, "Backup Task", status, _error(status, _message(lines, _HB_ALL_LABELS))),),
            run_at=stated_datetime(label_value(lines, _HB_START_LABELS), mail),
        )


# --- Active Backup for Business / for Microsoft 365 ----------------------------------------------

# "<prefix> Active Backup for Business - <task word> <TASK> <on> <NAS> <result>". The task word
# and preposition are localised; English is inferred, Italian and Danish are quoted from real mails.
_AB_SUBJECT = re.compile(
    r"Active Backup for (?P<product>Business|Microsoft 365|Google Workspace)\s+-\s+"
    r"(?:backup task|task|attività di backup|backupopgave(?:n)?|back-uptaak|sicherungsaufgabe|"
    r"datensicherungsaufgabe|tâche de sauvegarde|tarea de copia de seguridad)\s+"
    r"\[?(?P<task>.+?)\]?\s+(?:on|su|på|op|auf|sur|en)\s+\[?(?P<host>[^\s\]]+)\]?\s+(?P<result>.+)$",
    _I,
)
_AB_RESULTS: tuple[tuple[re.Pattern[str], Status], ...] = (
    (re.compile(r"partial|parzial|gedeeltelijk|teilweise|delvist|warning|avvis", _I), "warning"),
    (re.compile(r"fail|non riuscit|mislukt|fehlgeschlagen|mislykke|cancel|annullat|geannuleerd|abgebrochen|"
                r"annulleret|error|errore", _I), "failed"),
    (re.compile(r"complet|success|fuldført|voltooid|abgeschlossen|erfolgreich|riuscit|finished", _I), "success"),
)
_AB_START_LABELS = ("Start time", "Ora d’inizio", "Ora d'inizio", "Starttijd", "Startzeit", "Starttidspunkt")
_AB_DEVICE_LABELS = ("Device list", "Elenco dispositivi", "Apparaatlijst", "Geräteliste", "Enhedsliste")
_AB_ALL_LABELS = (
    *_AB_START_LABELS, *_AB_DEVICE_LABELS, "End time", "Ora di fine", "Transferred size", "Dimensioni trasferite",
)


@dataclass
class ActiveBackupParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _AB_SUBJECT.search(_subject(mail))
        if subject is None:
            raise ParseError("subject is not \"Active Backup for ... - <task> <TASK> on <NAS> <result>\"")
        result_text = subject.group("result")
        status = next((status for pattern, status in _AB_RESULTS if pattern.search(result_text)), None)
        if status is None:
            raise ParseError(f"unknown Active Backup result {result_text!r}")
        product = subject.group("product")
        backup_type = "Active Backup for Business" if product.lower() == "business" else f"Active Backup for {product}"
        lines = _lines(mail)
        error = _error(status, _message(lines, _AB_ALL_LABELS))
        devices = label_value(lines, _AB_DEVICE_LABELS)
        # The mail states one result for the task; each listed device shares it.
        objects = tuple(
            ParsedObject(device, "Device", status, error)
            for device in (clean(name) for name in re.split(r"[,;]", devices or ""))
            if device
        )
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=backup_type,
            job_name=clean(subject.group("task")),
            overall_status=status,
            objects=objects,
            run_at=stated_datetime(label_value(lines, _AB_START_LABELS), mail),
        )


# --- Snapshot Replication ------------------------------------------------------------------------

_TARGET = r"(?P<target>[^()]+?)"
_HOST = r"(?P<host>[\w.-]+)"
_DEST = r"(?P<dest>[\w.-]+)"
_SR_EVENTS: tuple[tuple[re.Pattern[str], Status, str], ...] = tuple(
    (re.compile(pattern, _I), status, kind)
    for pattern, status, kind in (
        # English
        (rf"replication task has completed the (?:scheduled|initial) replication from\s+{_HOST} \({_TARGET}\) "
         rf"to {_DEST}", "success", "Snapshot Replication"),
        (rf"replication task failed to perform (?:scheduled )?replication to\s+{_HOST} \({_TARGET}\)",
         "failed", "Snapshot Replication"),
        (rf"replication task {_TARGET} to {_DEST} \([^)]*\) is not completed", "warning", "Snapshot Replication"),
        (rf"replication task performing replication to\s+{_HOST} \({_TARGET}\) is stopped",
         "warning", "Snapshot Replication"),
        (rf"failed to take a snapshot for (?:shared folder|LUN) {_TARGET} on {_HOST}\s*$", "failed", "Snapshot"),
        (rf"previous scheduled snapshot task is still running on {_TARGET}\.?\s*$", "warning", "Snapshot"),
        # Dutch
        (rf"replicatie(?:taak)? .*?(?:geplande|initi[eë]le) replicatie (?:vanaf|van)\s+{_HOST} \({_TARGET}\) "
         rf"naar {_DEST} .*voltooid", "success", "Snapshot Replication"),
        (rf"het uitvoeren van de (?:geplande )?replicatie naar\s+{_HOST} \({_TARGET}\) door de replicatietaak "
         r"is mislukt", "failed", "Snapshot Replication"),
        (rf"replicatietaak {_TARGET} naar {_DEST} \([^)]*\) is niet voltooid", "warning", "Snapshot Replication"),
        (rf"het uitvoeren van de replicatie naar\s+{_HOST} \({_TARGET}\) door de replicatietaak is gestopt",
         "warning", "Snapshot Replication"),
        (rf"het maken van een snapshot van (?:gedeelde map|LUN) {_TARGET} op {_HOST} is mislukt", "failed",
         "Snapshot"),
        (rf"de eerdere geplande snapshottaak wordt nog steeds uitgevoerd op {_TARGET}\.?\s*$", "warning",
         "Snapshot"),
        # German
        (rf"replikationsaufgabe hat die (?:geplante|erste) replikation von\s+{_HOST} \({_TARGET}\) auf {_DEST} "
         r".*durchgeführt", "success", "Snapshot Replication"),
        (rf"replikationsaufgabe konnte (?:die geplante )?replikation auf\s+{_HOST} \({_TARGET}\) nicht "
         r"durchführen", "failed", "Snapshot Replication"),
        (rf"replikation {_TARGET} auf {_DEST} \([^)]*\) ist nicht abgeschlossen", "warning", "Snapshot Replication"),
        (rf"replikationsaufgabe zur ausführung der replikation auf\s+{_HOST} \({_TARGET}\) wurde angehalten",
         "warning", "Snapshot Replication"),
        (rf"schnappschuss für (?:freigegebenen ordner|LUN) {_TARGET} auf {_HOST} konnte nicht aufgenommen werden",
         "failed", "Snapshot"),
        (rf"zuvor geplante datensicherungsaufgabe wird auf {_TARGET}\s+noch ausgeführt", "warning", "Snapshot"),
    )
)
_SR_LABELS = ("Source server", "Destination server", "Bronserver", "Doelserver", "Quellserver", "Zielserver")


_SR_PATTERNS = tuple(pattern for pattern, _status, _kind in _SR_EVENTS)
_SR_LITERALS = tuple(required_literal(pattern.pattern) for pattern in _SR_PATTERNS)


def _sr_event(mail: NormalizedMail) -> tuple[re.Match[str], Status, str] | None:
    found = _first_event(_subject(mail), _SR_PATTERNS, _SR_LITERALS)
    if found is None:
        return None
    index, match = found
    return match, _SR_EVENTS[index][1], _SR_EVENTS[index][2]


@dataclass
class SnapshotReplicationParser(Parser):
    def matches(self, mail: NormalizedMail) -> bool:
        return any(rule.holds(mail) for rule in self.rules) and _sr_event(mail) is not None

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and _sr_event(mail) is None:
            # The rule is a cheap prefilter; only the exact DSM subjects select this parser.
            return "subject is not a known Snapshot Replication event"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        event = _sr_event(mail)
        if event is None:
            raise ParseError("subject is not a known Snapshot Replication event")
        match, status, kind = event
        target = clean(match.group("target"))
        error = _error(status, _message(_lines(mail), _SR_LABELS))
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=kind,
            job_name=target,
            overall_status=status,
            objects=(ParsedObject(target, "Shared Folder" if kind == "Snapshot" else "Replication Target",
                                  status, error),),
        )


# --- USB Copy ------------------------------------------------------------------------------------

_USB_EVENTS: tuple[tuple[re.Pattern[str], Status], ...] = tuple(
    (re.compile(pattern, _I), status)
    for pattern, status in (
        (r"^(?:the\s+)?(?P<copy>.+?) on (?P<host>[\w.-]+) has been completed", "success"),
        (r"^(?:the\s+)?(?P<copy>.+?) on (?P<host>[\w.-]+) failed", "failed"),
        (r"^(?:the\s+)?(?P<copy>.+?) on (?P<host>[\w.-]+) is cancel+ed", "failed"),
        (r"^external device is disconnected on (?P<host>[\w.-]+)", "warning"),
        (r"^het (?P<copy>.+?)-proces op (?P<host>[\w.-]+) is voltooid", "success"),
        (r"^het (?P<copy>.+?)-proces op (?P<host>[\w.-]+) is mislukt", "failed"),
        (r"^de (?P<copy>.+?) op (?P<host>[\w.-]+) is geannuleerd", "failed"),
        (r"^verbinding met extern apparaat op (?P<host>[\w.-]+) is verbroken", "warning"),
        (r"^(?P<copy>.+?) auf (?P<host>[\w.-]+) wurde durchgeführt", "success"),
        (r"^(?P<copy>.+?) auf (?P<host>[\w.-]+) fehlgeschlagen", "failed"),
        (r"^(?P<copy>.+?) auf (?P<host>[\w.-]+) wurde abgebrochen", "failed"),
        (r"^externes gerät ist auf (?P<host>[\w.-]+) nicht verbunden", "warning"),
    )
)
_USB_TASK_WORD = re.compile(r"^USB\s?Copy(?:[- ](?:task|taak|aufgabe))?\s*", _I)
_USB_PATTERNS = tuple(pattern for pattern, _status in _USB_EVENTS)
_USB_LITERALS = tuple(required_literal(pattern.pattern) for pattern in _USB_PATTERNS)
_DSM_PREFIX = re.compile(r"^\[[^\]]*\]\s*")


def _usb_event(mail: NormalizedMail) -> tuple[re.Match[str], Status] | None:
    # A DSM 7 prefix ("[nas01] ") stands before the template text.
    subject = _DSM_PREFIX.sub("", _subject(mail))
    found = _first_event(subject, _USB_PATTERNS, _USB_LITERALS)
    if found is None:
        return None
    return found[1], _USB_EVENTS[found[0]][1]


@dataclass
class UsbCopyParser(Parser):
    def matches(self, mail: NormalizedMail) -> bool:
        return any(rule.holds(mail) for rule in self.rules) and _usb_event(mail) is not None

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and _usb_event(mail) is None:
            return "subject is not a known USB Copy event"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        event = _usb_event(mail)
        if event is None:
            raise ParseError("subject is not a known USB Copy event")
        match, status = event
        copy = match.groupdict().get("copy")
        # %COPY% reads "USB Copy task <name>"; the job is the task. A disconnect names no task.
        task = clean(_USB_TASK_WORD.sub("", copy or "").strip("\"'[] ")) or "USB Copy"
        error = _error(status, _message(_lines(mail)))
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="USB Copy",
            job_name=task,
            overall_status=status,
            objects=(ParsedObject(task if copy else match.group("host"), "Task" if copy else "NAS", status, error),),
        )


# --- DSM / package updates (informational) -------------------------------------------------------

_H = r"(?P<host>[\w.-]+)"
_UPDATE_EVENTS: tuple[tuple[re.Pattern[str], Status], ...] = tuple(
    (re.compile(pattern, _I), status)
    for pattern, status in (
        # Security Advisor and package notices first: "DSM and packages ... out-of-date" is one event.
        (rf"DSM and packages on {_H} are out-of-date", "warning"),
        (rf"DSM on {_H} is out-of-date", "warning"),
        (rf"packages on {_H} are out-of-date", "warning"),
        (rf"packages must be updated on {_H}", "warning"),
        (rf"updates are available for packages on {_H}", "success"),
        (rf"package update information for {_H}", "success"),
        (rf"a new DSM update has been detected on {_H}", "success"),
        (rf"DSM update is ready to be installed on {_H}", "success"),
        (rf"DSM automatic update will automatically start on {_H}", "success"),
        (rf"DSM updates will be installed on {_H}", "success"),
        (r"DSM auto(?:matic)? update (?:on (?P<host>[\w.-]+) )?(?:is|was|has been) cancel+ed", "warning"),
        (rf"automatic DSM update (?:on {_H} )?(?:is|was|has been) cancel+ed", "warning"),
        (rf"automatic DSM update (?:on {_H})?", "success"),
        (rf"DSM en pakketten op {_H} zijn niet bijgewerkt", "warning"),
        (rf"DSM op {_H} is niet bijgewerkt", "warning"),
        (rf"pakketten op {_H} zijn niet bijgewerkt", "warning"),
        (rf"de pakketten op {_H} moeten worden bijgewerkt", "warning"),
        (rf"er zijn updates beschikbaar voor pakketten op {_H}", "success"),
        (rf"pakketupdate-informatie voor {_H}", "success"),
        (rf"er is een nieuwe DSM-update op {_H}", "success"),
        (rf"de DSM-update is gereed voor installatie op {_H}", "success"),
        (r"de automatische update van DSM (?:op (?P<host>[\w.-]+) )?is geannuleerd", "warning"),
        (rf"de automatische update van DSM wordt automatisch gestart op {_H}", "success"),
        (rf"DSM-updates worden automatisch geïnstalleerd(?: op)? {_H}", "success"),
        (r"automatische DSM-update(?: op (?P<host>[\w.-]+))? (?:is )?geannuleerd", "warning"),
        (rf"automatische DSM-update(?: op {_H})?", "success"),
        (rf"DSM-update op {_H}", "success"),
        (rf"DSM und Pakete auf {_H} sind .*veraltet", "warning"),
        (rf"DSM auf {_H} ist .*veraltet", "warning"),
        (rf"die Pakete auf {_H} sind veraltet", "warning"),
        (rf"Pakete müssen auf {_H} aktualisiert werden", "warning"),
        (rf"Aktualisierungen stehen für Pakete? auf {_H} zur Verfügung", "success"),
        (rf"Paketaktualisierungsinformationen für {_H}", "success"),
        (rf"eine neue DSM-Aktualisierung wurde auf {_H} erkannt", "success"),
        (rf"DSM-Aktualisierung für die Installation auf {_H} verfügbar", "success"),
        (rf"DSM automatische Aktualisierung wird auf {_H} in \d+ Minuten", "success"),
        (r"DSM automatische Aktualisierung (?:auf (?P<host>[\w.-]+) )?wird abgebrochen", "warning"),
        (rf"DSM-Aktualisierungen werden vor der geplanten Abschaltung auf {_H} installiert", "success"),
    )
)


_UPDATE_PATTERNS = tuple(pattern for pattern, _status in _UPDATE_EVENTS)
_UPDATE_LITERALS = tuple(required_literal(pattern.pattern) for pattern in _UPDATE_PATTERNS)


def _update_event(mail: NormalizedMail) -> tuple[re.Match[str], Status] | None:
    found = _first_event(_subject(mail), _UPDATE_PATTERNS, _UPDATE_LITERALS)
    if found is None:
        return None
    return found[1], _UPDATE_EVENTS[found[0]][1]


@dataclass
class SynologyUpdatesParser(Parser):
    def matches(self, mail: NormalizedMail) -> bool:
        return any(rule.holds(mail) for rule in self.rules) and _update_event(mail) is not None

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and _update_event(mail) is None:
            return "subject is not a known DSM or package update notice"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        event = _update_event(mail)
        if event is None:
            raise ParseError("subject is not a known DSM or package update notice")
        match, status = event
        lines = _lines(mail)
        host = match.groupdict().get("host") or _signature_host(lines)
        objects = ()
        if host:
            objects = (ParsedObject(host, "NAS", status, _error(status, _message(lines))),)
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Updates",
            # One job per sender for every update notice, as the seeds' Synology Updates parser does.
            job_name="Synology Automatic Update",
            overall_status=status,
            informational=True,
            objects=objects,
        )


# --- Account protection (informational) ----------------------------------------------------------

_IP = r"\[(?P<ip>[0-9a-fA-F.:]+)\]"
_PROTECTION_EVENTS = tuple(
    re.compile(pattern, _I)
    for pattern in (
        rf"IP address {_IP} has been blocked by (?P<host>[\w.-]+)",
        rf"IP address {_IP} of (?P<host>[\w.-]+) has been blocked",
        rf"het IP-adres {_IP} is geblokkeerd door (?P<host>[\w.-]+)",
        rf"IP-Adresse {_IP} wurde von .+? auf (?P<host>[\w.-]+) blockiert",
        r"new login to your Synology NAS",
        r"nieuwe aanmelding op uw Synology NAS",
        r"neue Anmeldung bei Ihrem Synology NAS",
    )
)
_ACCOUNT = re.compile(r"^(?:hi|hallo|hoi|hello)\s+(?P<account>[^,\s]+)\s*,", _I)


_PROTECTION_LITERALS = tuple(required_literal(pattern.pattern) for pattern in _PROTECTION_EVENTS)


def _protection_event(mail: NormalizedMail) -> re.Match[str] | None:
    found = _first_event(_subject(mail), _PROTECTION_EVENTS, _PROTECTION_LITERALS)
    return found[1] if found else None


@dataclass
class AccountProtectionParser(Parser):
    def matches(self, mail: NormalizedMail) -> bool:
        return any(rule.holds(mail) for rule in self.rules) and _protection_event(mail) is not None

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and _protection_event(mail) is None:
            return "subject is not a known IP block or new-login notice"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        match = _protection_event(mail)
        if match is None:
            raise ParseError("subject is not a known IP block or new-login notice")
        lines = _lines(mail)
        sentences = _message(lines)
        ip = match.groupdict().get("ip")
        if ip:
            obj = ParsedObject(ip, "IP address", "warning", "\n".join(sentences) or _subject(mail))
        else:
            account = next((m.group("account") for m in map(_ACCOUNT.match, lines) if m), None)
            obj = ParsedObject(account or "unknown account", "Account", "warning", None)
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Account Protection",
            job_name="Synology Account Protection",
            # Someone got blocked or signed in from somewhere new: worth a look, not a failure.
            overall_status="warning",
            informational=True,
            objects=(obj,),
        )


UPDATES_PARSER = SynologyUpdatesParser(
    key="synology_updates",
    name="Synology DSM / package updates",
    software=SOFTWARE,
    backup_types=("Updates",),
    # Cheap word tests; the exact DSM subjects are checked by matches() / why_not().
    rules=tuple(MatchRule(subject_contains=word) for word in ("DSM", "package", "pakket", "pakete", "aktualisierung")),
    example="Packages on nas01 are out-of-date",
    informational=True,
)

ACCOUNT_PROTECTION_PARSER = AccountProtectionParser(
    key="synology_account_protection",
    name="Synology account protection (IP blocked, new login)",
    software=SOFTWARE,
    backup_types=("Account Protection",),
    rules=tuple(
        MatchRule(subject_contains=words) for words in ("IP address [", "IP-adres [", "IP-Adresse [", "Synology NAS")
    ),
    example="IP address [203.0.113.45] has been blocked by nas01 via SSH",
    informational=True,
)

ACTIVE_BACKUP_PARSER = ActiveBackupParser(
    key="synology_active_backup",
    name="Synology Active Backup for Business / Microsoft 365",
    software=SOFTWARE,
    backup_types=("Active Backup for Business", "Active Backup for Microsoft 365"),
    # The product name is not translated, whatever the NAS language.
    rules=(MatchRule(subject_contains="Active Backup for "),),
    example="[nas01] Active Backup for Business - Backup task PC-Backup on nas01 has completed",
)

HYPER_BACKUP_PARSER = HyperBackupParser(
    key="synology_hyper_backup",
    name="Synology Hyper Backup",
    software=SOFTWARE,
    backup_types=("Hyper Backup",),
    rules=(
        MatchRule(subject_contains=" on ", subject_regex=r" - .+ (?:successful|failed|cancell?ed) on \S+",
                  body_contains="Backup Task:"),
        MatchRule(subject_contains=" op ", subject_regex=r" - .+ (?:voltooid|mislukt|geannuleerd) op \S+",
                  body_contains="Back-uptaak:"),
        MatchRule(subject_contains=" auf ", subject_regex=r" - .+ (?:erfolgreich|fehlgeschlagen|abgebrochen) auf \S+",
                  body_contains="Datensicherungsaufgabe:"),
    ),
    example="Hyper Backup - Daily to C2 partially successful on nas01",
)

SNAPSHOT_REPLICATION_PARSER = SnapshotReplicationParser(
    key="synology_snapshot_replication",
    name="Synology Snapshot Replication",
    software=SOFTWARE,
    backup_types=("Snapshot Replication", "Snapshot"),
    # Cheap word tests; the exact DSM subjects are checked by matches() / why_not().
    rules=tuple(
        MatchRule(subject_contains=word)
        for word in ("replica", "replikation", "snapshot", "schnappschuss", "noch ausgeführt")
    ),
    example="Replication task failed to perform scheduled replication to nas01 (Projects)",
)

USB_COPY_PARSER = UsbCopyParser(
    key="synology_usb_copy",
    name="Synology USB Copy",
    software=SOFTWARE,
    backup_types=("USB Copy",),
    rules=(
        MatchRule(body_contains="USB Copy"),
        MatchRule(subject_contains="external device"),
        MatchRule(subject_contains="extern apparaat"),
        MatchRule(subject_contains="externes Gerät"),
    ),
    example="The USB Copy task Photos to USB on nas01 failed",
)
