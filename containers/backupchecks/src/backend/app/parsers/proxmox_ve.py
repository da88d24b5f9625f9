"""Proxmox VE: vzdump backup reports, replication failures and package-update notices.

Format facts: shared/corpus/formats/proxmox-ve.md (pve-manager templates and VZDump.pm, both the
notification system of PVE 8.1+ and the legacy sendmail of PVE <= 8.0).

vzdump mails carry no job name, so a job is the node (from the subject) plus the target storage
from the logged command line: two jobs on one node that write to different storages stay apart.
Replication mails are only sent on failure and update mails are notices, so both are
informational: they must not teach the scheduler a rhythm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult
from .common_b import local_time, mail_text, parse_html, search_line
from .normalize import element_text

SOFTWARE = "Proxmox VE"

_SUBJECT = re.compile(
    r"vzdump backup status \((?P<host>[^)]*)\)\s*:\s*backup\s+(?P<result>successful|failed)"
    r"(?:\s*:\s*(?P<error>.*))?",
    re.IGNORECASE | re.DOTALL,
)
# PVE 8.1+ plain-text table: columns padded with at least four spaces.
_TABLE_HEADER = re.compile(r"^VMID\s{2,}Name\s{2,}Status\s{2,}Time\s{2,}Size\s{2,}Filename\s*$", re.M)
_CELL_SPLIT = re.compile(r"\s{2,}")
# Legacy (<= 8.0) fixed-width table, with or without the NAME column.
_LEGACY_HEADER = re.compile(r"^VMID\s+(?:NAME\s+)?STATUS\s+TIME\s+SIZE\s+FILENAME\s*$", re.M)
_LEGACY_ROW = re.compile(
    r"^(?P<vmid>\d+)\s+(?:(?P<name>\S+)\s+)??(?P<status>ok|err)\s+(?P<time>\S+)\s+(?P<size>\S+)\s+(?P<file>.*)$"
)
_STORAGE = re.compile(r"^(?:INFO: starting new backup job: )?vzdump\b[^\n]*?--storage[ =](\S+)", re.M)
_LOG_TIME = re.compile(r"^\d+: (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ", re.M)
_GUEST_FAILED = re.compile(r"^(\d+): \S+ \S+ ERROR: Backup of VM \d+ failed - (.*)$", re.M)
_GUEST_ERROR = re.compile(r"^(\d+): \S+ \S+ ERROR: (.*)$", re.M)
_GUEST_KIND = re.compile(r"^(\d+): \S+ \S+ INFO: Starting Backup of VM \d+ \((qemu|lxc|openvz)\)", re.M)
# A cell's text (all its text nodes), as lxml.html's text_content() gives it.
_STRING_VALUE = etree.XPath("string()")
# The guest table (or its "Details" heading) ends the job error printed above it.
_ERROR_END = re.compile(r"^(?:Details\s*$|VMID\b)", re.M)


@dataclass
class _Guest:
    vmid: str
    name: str
    ok: bool
    message: str | None = None


def _text_guests(text: str) -> list[_Guest] | None:
    """Guests from the plain-text table, or None when the text part has no table."""
    header = search_line(_TABLE_HEADER, text, "VMID")
    if header:
        guests = []
        for line in text[header.end() :].lstrip("\n").split("\n"):
            cells = _CELL_SPLIT.split(line.strip())
            if len(cells) < 3 or not cells[0].isdigit():
                break
            guests.append(_Guest(cells[0], cells[1], cells[2].lower() == "ok"))
        return guests
    header = search_line(_LEGACY_HEADER, text, "VMID")
    if header:
        guests = []
        for line in text[header.end() :].lstrip("\n").split("\n"):
            row = _LEGACY_ROW.match(line.strip())
            if not row:
                break
            vmid = row["vmid"]
            guests.append(_Guest(vmid, row["name"] or f"VM {vmid}", row["status"] == "ok"))
        return guests
    return None


def _html_guests(root: etree._Element) -> list[_Guest] | None:
    """Guests from the HTML table (both layouts); the legacy one also carries the error text.
    ``root`` is a lean tree: lxml.html would run a Python class lookup for every element."""
    for table in root.iter("table"):
        rows = [[_STRING_VALUE(cell).strip() for cell in row.iter("td", "th")] for row in table.iter("tr")]
        if not rows or [c.upper() for c in rows[0][:3]] != ["VMID", "NAME", "STATUS"]:
            continue
        guests = []
        for cells in rows[1:]:
            if len(cells) < 3 or not cells[0].isdigit():
                continue  # the legacy TOTAL row
            ok = cells[2].upper() == "OK"
            message = cells[4] if not ok and len(cells) == 5 and cells[4] else None
            guests.append(_Guest(cells[0], cells[1] or f"VM {cells[0]}", ok, message))
        return guests
    return None


def _job_error(text: str) -> str | None:
    """The multi-line job error printed above the guest table."""
    match = _ERROR_END.search(text)
    if not match:
        return None
    before = text[: match.start()].strip()
    return before or None


class ProxmoxVeVzdumpParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _SUBJECT.search(" ".join((mail.subject or "").split()))
        if not subject:
            raise ParseError("subject is not 'vzdump backup status (<node>): backup successful|failed'")
        host = subject["host"].strip()
        failed = subject["result"].lower() == "failed"
        # The HTML is parsed at most once: for the text when the text part is unusable (what
        # mail_text() would render) and for the guest table.
        usable_text = bool(mail.text_body) and not mail.text_body.isspace()
        root = None if usable_text else parse_html(mail.html_body or "", lean=True)
        text = mail_text(mail) if usable_text else element_text(root) if root is not None else ""

        # The text table is cheapest to read, but the legacy one has no guest names and no error
        # text; its HTML twin has both.
        plain = text if usable_text else ""
        guests = _text_guests(plain) if plain else None
        if guests is None or (search_line(_LEGACY_HEADER, plain, "VMID") and mail.html_body):
            if usable_text:
                root = parse_html(mail.html_body or "", lean=True)
            guests = (_html_guests(root) if root is not None else None) or guests
        guests = guests or []

        # The log patterns are tried at every line start; the words they need decide first.
        messages = {}
        if " ERROR: " in text:
            messages = {vmid: msg.strip() for vmid, msg in _GUEST_FAILED.findall(text)}
            for vmid, msg in _GUEST_ERROR.findall(text):
                messages.setdefault(vmid, msg.strip())
        kinds = dict(_GUEST_KIND.findall(text)) if " INFO: Starting Backup of VM " in text else {}

        objects = []
        for guest in guests:
            error = None if guest.ok else (guest.message or messages.get(guest.vmid))
            objects.append(
                ParsedObject(
                    name=guest.name,
                    type="Container" if kinds.get(guest.vmid) in ("lxc", "openvz") else "VM",
                    status="success" if guest.ok else "failed",
                    error=error,
                )
            )

        message = None
        if failed:
            single = (subject["error"] or "").strip()
            message = single if single and single.lower() != "multiple problems" else _job_error(text)

        storage = _STORAGE.search(text) if "--storage" in text else None
        job_name = f"{host} ({storage[1]})" if storage else host
        started = _LOG_TIME.search(text)
        run_at = local_time(mail, *(int(g) for g in started.groups())) if started else None

        overall = "failed" if failed or any(o.status == "failed" for o in objects) else "success"
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Backup",
            job_name=job_name,
            overall_status=overall,
            objects=tuple(objects),
            run_at=run_at,
            message=message,
        )


_REPLICATION_SUBJECT = re.compile(r"Replication Job:\s*'?(?P<id>[^'\s]+)'?\s+failed", re.IGNORECASE)
_REPLICATION_ERROR = re.compile(r"^Error:[ \t]*\n?(.*)\Z", re.M | re.S)
_UPDATES_SUBJECT = re.compile(r"New software packages available \((?P<host>[^)]+)\)", re.IGNORECASE)
# Cells are padded with 2+ spaces in the text table and end in a tab when rendered from HTML.
_UPDATE_CELLS = re.compile(r"\t|\s{2,}")
PBS_UPDATES_MARKER = "Proxmox Backup Server has the following updates available"


class ProxmoxVeNoticeParser(Parser):
    """Replication failures and package-update notices (informational)."""

    def why_not(self, mail: NormalizedMail) -> str | None:
        reason = super().why_not(mail)
        if reason is None and PBS_UPDATES_MARKER.lower() in mail_text(mail).lower():
            return "update notice comes from Proxmox Backup Server"
        return reason

    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = " ".join((mail.subject or "").split())
        text = mail_text(mail)
        replication = _REPLICATION_SUBJECT.search(subject)
        if replication:
            job_id = replication["id"]
            error = _REPLICATION_ERROR.search(text)
            error_text = error[1].strip() if error and error[1].strip() else None
            return ParseResult(
                parser_key=self.key,
                backup_software=SOFTWARE,
                backup_type="Replication",
                job_name=job_id,
                overall_status="failed",
                informational=True,
                objects=(ParsedObject(name=job_id, type="Replication job", status="failed", error=error_text),),
            )
        updates = _UPDATES_SUBJECT.search(subject)
        if updates:
            packages = []
            for line in text.split("\n"):
                cells = [cell for cell in _UPDATE_CELLS.split(line.strip()) if cell]
                if len(cells) == 3 and cells[0] != "Package Name" and not any(" " in c for c in cells):
                    packages.append(f"{cells[0]} {cells[1]} -> {cells[2]}")
            message = f"{len(packages)} package update(s) available" if packages else None
            if packages:
                message += ": " + ", ".join(packages)
            return ParseResult(
                parser_key=self.key,
                backup_software=SOFTWARE,
                backup_type="Updates",
                job_name=updates["host"].strip(),
                overall_status="success",
                informational=True,
                message=message,
            )
        raise ParseError("subject is neither a replication failure nor a package-update notice")


PVE_VZDUMP_PARSER = ProxmoxVeVzdumpParser(
    key="proxmox_ve_vzdump",
    name="Proxmox VE vzdump backup",
    software=SOFTWARE,
    backup_types=("Backup",),
    rules=(MatchRule(subject_contains="vzdump backup status"),),
    example="vzdump backup status (pve01.example.com): backup successful",
)

PVE_NOTICE_PARSER = ProxmoxVeNoticeParser(
    key="proxmox_ve_notice",
    name="Proxmox VE replication failure / package updates",
    software=SOFTWARE,
    backup_types=("Replication", "Updates"),
    rules=(
        MatchRule(subject_regex=r"^Replication Job:.*failed"),
        MatchRule(subject_contains="New software packages available"),
    ),
    example="Replication Job: '100-0' failed",
    informational=True,
)
