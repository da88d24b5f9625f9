"""Proxmox Backup Server: datastore job results and server notices.

Format facts: shared/corpus/formats/proxmox-backup-server.md (proxmox-backup templates).

PBS never mails per VM snapshot (Proxmox VE reports those); it mails datastore jobs. Garbage
collection, verify, prune, sync and tape backup are scheduled jobs, so they are runs. Tape load
requests, failed certificate renewals and package-update notices arrive on events, not on a
schedule, so they are informational and never teach the scheduler a rhythm.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult
from .common_b import epoch_time, mail_text
from .proxmox_ve import PBS_UPDATES_MARKER

SOFTWARE = "Proxmox Backup Server"

_RESULT = r"\s+(?P<result>successful|failed)\s*$"
_JOB_SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Garbage Collection", re.compile(r"^Garbage Collect Datastore '(?P<store>[^']*)'" + _RESULT, re.I)),
    ("Verify", re.compile(r"^Verify Datastore '(?P<store>[^']*)'" + _RESULT, re.I)),
    ("Prune", re.compile(r"^Pruning datastore '(?P<store>[^']*)'" + _RESULT, re.I)),
    (
        "Sync",
        re.compile(
            r"^Sync (?:remote '(?P<remote>[^']*)' datastore|local datastore) '(?P<source>[^']*)'" + _RESULT,
            re.I,
        ),
    ),
    ("Tape Backup", re.compile(r"^Tape Backup (?:'(?P<id>[^']*)' )?datastore '(?P<store>[^']*)'" + _RESULT, re.I)),
)
_JOB_ID = re.compile(r"^Job ID:[ \t]*(\S.*)$", re.M)
_DATASTORE = re.compile(r"^Datastore:[ \t]*(\S.*)$", re.M)
_FAILED_LINE = re.compile(r"^(?:Garbage collection|Pruning|Synchronization|Tape Backup) failed:[ \t]*(.*)$", re.M)
_VERIFY_FAILED = re.compile(r"Verification failed on these snapshots/groups:\s*\n(.*?)(?:\n\s*\n|\Z)", re.S)
# A task id (UPID) carries the task's start time as hex epoch seconds.
_UPID_START = re.compile(r"UPID:[^:\s]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+:([0-9A-Fa-f]{8}):")
_WEB_HOST = re.compile(r"<https?://([^:/>\s]+)")

_TAPE_LOAD = re.compile(r"^Load Media '(?P<label>[^']*)' request for (?:drive|changer) '(?P<device>[^']*)'", re.I)
_TAPE_REASON = re.compile(r"has the wrong or no tape\(s\) inserted\. Error:\s*\n(.*?)\n\s*\n", re.S)
_ACME = re.compile(r"^Could not renew certificate", re.I)
_ERROR_LINE = re.compile(r"^Error:[ \t]*(.*)$", re.M)
_UPDATES = re.compile(r"^New software packages available \((?P<host>[^)]+)\)", re.I)
_UPDATE_LINE = re.compile(r"^\s+(\S+): (\S+) -> (\S+)\s*$", re.M)


def _clean_subject(mail: NormalizedMail) -> str:
    return " ".join((mail.subject or "").split())


class ProxmoxBackupServerJobParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _clean_subject(mail)
        found = next(((kind, m) for kind, pattern in _JOB_SUBJECTS if (m := pattern.search(subject))), None)
        if found is None:
            raise ParseError("subject is not a Proxmox Backup Server job result")
        backup_type, match = found
        text = mail_text(mail)
        failed = match["result"].lower() == "failed"
        groups = match.groupdict()
        job_id = _JOB_ID.search(text)
        body_store = _DATASTORE.search(text)
        # Sync subjects name the source; the object is the local datastore written to.
        store = groups.get("store") or (body_store[1].strip() if body_store else groups["source"])

        if job_id:
            job_name = job_id[1].strip()
        elif groups.get("id"):
            job_name = groups["id"]
        elif backup_type == "Sync":
            job_name = f"{groups['remote'] or 'local'}/{groups['source']}"
        else:
            job_name = store

        error_line = _FAILED_LINE.search(text)
        error = (error_line[1].strip() or None) if failed and error_line else None
        objects: list[ParsedObject] = []
        verify = _VERIFY_FAILED.search(text) if failed and backup_type == "Verify" else None
        if verify:
            for line in verify[1].split("\n"):
                name = line.strip()
                if name:
                    objects.append(
                        ParsedObject(name=name, type="Snapshot" if name.count("/") >= 2 else "Group", status="failed")
                    )
        else:
            objects.append(
                ParsedObject(name=store, type="Datastore", status="failed" if failed else "success", error=error)
            )

        started = _UPID_START.search(text)
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=backup_type,
            job_name=job_name,
            overall_status="failed" if failed else "success",
            objects=tuple(objects),
            run_at=epoch_time(int(started[1], 16)) if started else None,
            message=error if failed and not objects else None,
        )


class ProxmoxBackupServerNoticeParser(Parser):
    """Tape load requests, certificate renewal failures, package updates (informational)."""

    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _clean_subject(mail)
        text = mail_text(mail)
        web_host = _WEB_HOST.search(text)
        host = web_host[1] if web_host else None

        tape = _TAPE_LOAD.search(subject)
        if tape:
            reason = _TAPE_REASON.search(text)
            return self._result(
                "Tape Load Request",
                tape["device"],
                "warning",
                (
                    ParsedObject(
                        name=tape["label"], type="Tape", status="warning", error=reason[1].strip() if reason else None
                    ),
                ),
            )
        if _ACME.search(subject):
            error = _ERROR_LINE.search(text)
            return self._result(
                "Certificate",
                host or "Proxmox Backup Server",
                "failed",
                (
                    ParsedObject(
                        name="TLS certificate",
                        type="Certificate",
                        status="failed",
                        error=(error[1].strip() or None) if error else None,
                    ),
                ),
            )
        updates = _UPDATES.search(subject)
        if updates:
            packages = [f"{p} {old} -> {new}" for p, old, new in _UPDATE_LINE.findall(text)]
            message = f"{len(packages)} package update(s) available: " + ", ".join(packages) if packages else None
            return self._result("Updates", updates["host"].strip(), "success", (), message)
        raise ParseError("subject is not a Proxmox Backup Server notice")

    def _result(
        self,
        backup_type: str,
        job_name: str,
        status: str,
        objects: tuple[ParsedObject, ...],
        message: str | None = None,
    ) -> ParseResult:
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type=backup_type,
            job_name=job_name,
            overall_status=status,  # type: ignore[arg-type]
            informational=True,
            objects=objects,
            message=message,
        )


PBS_JOB_PARSER = ProxmoxBackupServerJobParser(
    key="proxmox_backup_server_job",
    name="Proxmox Backup Server datastore job",
    software=SOFTWARE,
    backup_types=tuple(t for t, _ in _JOB_SUBJECTS),
    rules=tuple(MatchRule(subject_regex=p.pattern) for _, p in _JOB_SUBJECTS),
    example="Garbage Collect Datastore 'store1' successful",
)

PBS_NOTICE_PARSER = ProxmoxBackupServerNoticeParser(
    key="proxmox_backup_server_notice",
    name="Proxmox Backup Server tape request / certificate / package updates",
    software=SOFTWARE,
    backup_types=("Tape Load Request", "Certificate", "Updates"),
    rules=(
        MatchRule(subject_regex=_TAPE_LOAD.pattern),
        MatchRule(subject_regex=_ACME.pattern),
        MatchRule(subject_contains="New software packages available", body_contains=PBS_UPDATES_MARKER),
    ),
    example="Load Media 'TAPE001' request for drive 'lto8'",
    informational=True,
)
