"""Xen Orchestra backup-reports plugin (VM and metadata backup jobs).

Format facts: shared/corpus/formats/xen-orchestra.md (xo-server-backup-reports templates) and the
two 2017 samples in shared/corpus/raw/xen-orchestra. Three generations are read:

* current: ``[Xen Orchestra] <status> − Backup report for <job> <icon>`` with a Markdown text part
  (``## Global status: …``, ``## n Failures`` / ``## n Successes`` sections, ``### <VM>`` blocks);
* 2017: ``[Xen Orchestra][Success|Failure] Backup report for <tag>`` with ``### VM : <name>`` blocks
  carrying a ``Status:`` line, or the ``## ❌ Failures (n)`` sections of late 2017;
* ``vm.rollingBackup:`` dumps, where each block ends in the call result (``true`` or the error).

The subject's dash is U+2212, and the subject ends in an emoji icon; both are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import element_text, local_time, parse_html, worst

SOFTWARE = "Xen Orchestra"

_SUBJECT = re.compile(
    r"\[Xen Orchestra(?:\s*-\s*[^\]]*)?\]\s*"
    r"(?:\[(?P<old_status>Success|Failure)\]\s*)?"
    r"(?:(?P<status>success|failure|interrupted|skipped|pending)\s*[\u2212\u2013\-]\s*)?"
    r"(?P<kind>Metadata backup|Backup) report for (?P<job>.+)",
    re.IGNORECASE,
)
_HISTORIC_SUBJECT = re.compile(r"Backup Reports? for \"(?P<job>[^\"]+)\"", re.IGNORECASE)
_TRAILING_ICONS = re.compile(r"[\s\u2714\u2705\u274c\u26a0\ufe0f\u23e9\U0001f6a8]+$")
_GLOBAL = re.compile(
    r"^#*\s*Global status(?: for \"(?P<tag>[^\"]*)\"(?: \([^)]*\))?)?\s*:\s*(?P<status>[A-Za-z]+)", re.M | re.I
)
_SECTION = re.compile(r"^##\s+(?:\d+\s+|[^\w\s]+\s+)?(?P<kind>Failures?|Successe?s?|Skipped|Interrupted)\b", re.I)
_VM_HEADING = re.compile(r"^(?:###\s+(?:VM\s*:\s*)?|VM\s+:\s+)(?P<name>.*)$")
_FIELD = re.compile(
    r"^\s*(?:[-*•\u2022]\s*)?(?:\*\*)?(?P<key>[A-Za-z]+(?: [A-Za-z]+)*)(?:\*\*)?[ \t]*:[ \t]*(?P<value>.*)$"
)
_WARNING = re.compile(r"^\s*-\s*(?:\*\*)?\s*\u26a0\ufe0f?(?P<text>.*)$")
_ROLLING_START = re.compile(r"^vm\.\w+:\s*$")
_ROLLING_ANY = re.compile(r"^vm\.\w+:\s*$", re.M)
_ROLLING_VM = re.compile(r"^VM:\s+(?P<name>.+?)(?:\s+\([^)]*\))?\s*$")
_ROLLING_TAG = re.compile(r"^tag:[ \t]*(?P<tag>\S.*)$")
_ROLLING_KEY = re.compile(r"^\s*[\w.]+:(?:\s|$)")

_STATUS_WORDS: dict[str, Status] = {
    "success": "success",
    "successes": "success",
    "skipped": "warning",
    "interrupted": "failed",
    "failure": "failed",
    "failures": "failed",
    "fail": "failed",
}

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
# moment 'dddd, MMMM Do YYYY, h:mm:ss a' (no offset: the schedule's zone).
_MOMENT_DATE = re.compile(
    r"^\w+, (?P<month>[A-Za-z]+) (?P<day>\d{1,2})(?:st|nd|rd|th)? (?P<year>\d{4}), "
    r"(?P<hour>\d{1,2}):(?P<minute>\d\d):(?P<second>\d\d) (?P<ampm>am|pm)$",
    re.I,
)
# JavaScript Date string: 'Tue Apr 18 2017 18:00:00 GMT-0400'.
_JS_DATE = re.compile(
    r"^\w{3} (?P<month>[A-Za-z]{3}) (?P<day>\d{1,2}) (?P<year>\d{4}) (?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
    r" GMT(?P<sign>[+-])(?P<oh>\d\d)(?P<om>\d\d)"
)
# moment().format(): ISO 8601 with offset.
_ISO_DATE = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)T(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
    r"(?P<tz>Z|[+-]\d\d:?\d\d)$"
)


def _month(name: str) -> int | None:
    name = name.lower()
    for full, number in _MONTHS.items():
        if full.startswith(name) and len(name) >= 3:
            return number
    return None


def _aware(year: int, month: int, day: int, hour: int, minute: int, second: int, offset: timedelta) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset)).astimezone(UTC)
    except ValueError:
        return None


def parse_time(value: str, mail: NormalizedMail) -> datetime | None:
    """Read one of the three date styles the plugin has used; None when unreadable."""
    value = value.strip()
    if match := _JS_DATE.match(value):
        month = _month(match["month"])
        if month is None:
            return None
        offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        if match["sign"] == "-":
            offset = -offset
        return _aware(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            offset,
        )
    if match := _ISO_DATE.match(value):
        tz = match["tz"].replace(":", "")
        offset = (
            timedelta(0)
            if tz == "Z"
            else (1 if tz[0] == "+" else -1) * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
        )
        return _aware(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            offset,
        )
    if match := _MOMENT_DATE.match(value):
        month = _month(match["month"])
        if month is None:
            return None
        hour = int(match["hour"]) % 12 + (12 if match["ampm"].lower() == "pm" else 0)
        return local_time(
            mail, int(match["year"]), month, int(match["day"]), hour, int(match["minute"]), int(match["second"])
        )
    return None


def _run_at(fields: dict[str, str], mail: NormalizedMail) -> datetime | None:
    """The job's start time. A time without offset borrows the Date header's offset, but the
    plugin's mailer may stamp Date in UTC while printing times in the schedule's zone; the report
    goes out when the job ends, so an end time that does not fit the Date header means the offset
    is unknown, and no run time beats a wrong one."""
    start = fields.get("start time")
    run_at = parse_time(start, mail) if start else None
    if run_at is None or not _MOMENT_DATE.match(start or ""):
        return run_at
    end = parse_time(fields.get("end time", ""), mail)
    received = mail.received_at
    if end is None or received is None:
        return run_at
    lag = received - end
    return run_at if timedelta(minutes=-2) <= lag <= timedelta(minutes=30) else None


@dataclass
class _Vm:
    name: str
    status: Status | None
    error: str | None = None
    warning: str | None = None


def _markdown_text(mail: NormalizedMail) -> str:
    text = (mail.text_body or "").replace("\r\n", "\n").replace("\r", "\n")
    if text.strip():
        return text
    # A lean tree (no comments, plain elements): element_text walks every node of it.
    root = parse_html(mail.html_body or "", lean=True)
    return element_text(root, markdown=True) if root is not None else ""


def _parse_report(text: str) -> tuple[list[_Vm], dict[str, str], list[str], str | None]:
    """VM blocks, global fields (before the first VM), job warnings and the job-level error."""
    vms: list[_Vm] = []
    fields: dict[str, str] = {}
    warnings: list[str] = []
    job_error: str | None = None
    section: Status | None = None
    current: _Vm | None = None
    for line in text.split("\n"):
        # Cheap first-character tests keep this loop to about one regex per line.
        if line.startswith("---"):
            continue
        if line.startswith("#"):
            if section_match := _SECTION.match(line):
                section = _STATUS_WORDS.get(section_match["kind"].lower())
                current = None
                continue
            if line.startswith("## "):
                current = None
                continue
        if line.startswith(("#", "VM")) and (heading := _VM_HEADING.match(line)):
            current = _Vm(heading["name"].strip() or "VM not found", section)
            vms.append(current)
            continue
        if "\u26a0" in line and (warning := _WARNING.match(line)):
            note = warning["text"].strip().removesuffix("**").strip()
            if current is None:
                warnings.append(note)
            elif current.warning is None:
                current.warning = note
            continue
        field = _FIELD.match(line) if ":" in line else None  # a field line has its colon
        if not field:
            continue
        key, value = field["key"].lower(), field["value"].strip()
        if current is None:
            if key in ("error", "reason") and job_error is None:
                job_error = value
            fields.setdefault(key, value)
        elif key == "status":
            current.status = _STATUS_WORDS.get(value.split()[0].lower()) if value else current.status
        elif key in ("error", "reason") and current.error is None and value:
            current.error = value
        elif key == "uuid" and current.name == "VM not found":
            current.name = value
    return vms, fields, warnings, job_error


def _parse_rolling(text: str) -> tuple[list[_Vm], str | None]:
    """``vm.rollingBackup:`` dumps: the last indented non-field line of a block is the call result."""
    vms: list[_Vm] = []
    tag: str | None = None
    current: _Vm | None = None
    for line in text.split("\n"):
        if _ROLLING_START.match(line):
            current = None
            continue
        if vm := _ROLLING_VM.match(line):
            current = _Vm(vm["name"], None)
            vms.append(current)
            continue
        if (found := _ROLLING_TAG.match(line)) and tag is None:
            tag = found["tag"].strip()
            continue
        if current is not None and line[:1].isspace() and line.strip() and not _ROLLING_KEY.match(line):
            result = line.strip()
            current.status, current.error = ("success", None) if result == "true" else ("failed", result)
    return [vm for vm in vms if vm.status is not None], tag


class XenOrchestraParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = " ".join((mail.subject or "").split())
        text = _markdown_text(mail)
        match = _SUBJECT.search(subject)
        historic = None if match else _HISTORIC_SUBJECT.search(subject)

        # The dump's "vm.<call>:" lines are tried at every line start: without "vm." there are none.
        if "vm." in text and _ROLLING_ANY.search(text) and not _GLOBAL.search(text):
            vms, tag = _parse_rolling(text)
            fields: dict[str, str] = {}
            warnings: list[str] = []
            job_error = None
            global_match = None
        else:
            vms, fields, warnings, job_error = _parse_report(text)
            global_match = _GLOBAL.search(text)
            tag = global_match["tag"] if global_match else None

        if match:
            job_name = _TRAILING_ICONS.sub("", match["job"]).strip()
        elif historic:
            job_name = historic["job"]
        elif tag:
            job_name = tag
        else:
            raise ParseError("cannot find the job name: subject is not '[Xen Orchestra] … Backup report for <job>'")
        if not job_name:
            raise ParseError("the subject names no job")

        stated = (match and (match["status"] or match["old_status"])) or (global_match and global_match["status"])
        status = _STATUS_WORDS.get(stated.lower()) if stated else None
        if stated and status is None:
            raise ParseError(f"unknown Xen Orchestra status {stated!r}")

        is_metadata = bool(match and match["kind"].lower().startswith("metadata"))
        objects = []
        for vm in vms:
            vm_status: Status = vm.status or status or "success"
            if vm_status == "success" and vm.warning:
                vm_status = "warning"
            objects.append(
                ParsedObject(
                    name=vm.name,
                    type="Metadata" if is_metadata else "VM",
                    status=vm_status,
                    error=vm.error or (vm.warning if vm_status == "warning" else None),
                )
            )
        if status is None:
            if not objects and not job_error:
                raise ParseError("the report states no status and lists no VM")
            status = worst((o.status for o in objects), "failed" if job_error else "success")
        if status == "success" and (warnings or any(o.status != "success" for o in objects)):
            status = "warning"

        message = job_error if not objects else None
        if message is None and warnings and status == "warning":
            message = warnings[0]
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Metadata Backup" if is_metadata else "Backup",
            job_name=job_name,
            overall_status=status,
            objects=tuple(objects),
            run_at=_run_at(fields, mail),
            message=message,
        )


XO_PARSER = XenOrchestraParser(
    key="xen_orchestra",
    name="Xen Orchestra backup report",
    software=SOFTWARE,
    backup_types=("Backup", "Metadata Backup"),
    rules=(
        MatchRule(subject_regex=r"\[Xen Orchestra[^\]]*\].*Backup report for"),
        MatchRule(subject_regex=r"Backup Reports? for \".*\" \(Xen Orchestra\)"),
        MatchRule(body_contains="vm.rollingBackup:"),
    ),
    example="[Xen Orchestra] success − Backup report for Nightly ✔",
)
