"""Hyper-V Backup Utility (Digressive/Mike Galvin's PowerShell script) log mails.

Format facts: the two samples in shared/corpus/raw/hyperv-backup-utility and the script's
parameters (``-Subject``, default "Hyper-V Backup Utility Log"). The mail is the script's log:
``YYYY-MM-DD HH:mm:ss [INFO|SUCCESS|ERROR] (VM:<name>) text``; the subject ends in
``N/M VMs Successful``.

The subject count is not trusted on its own: a VM can log an ``[ERROR]`` and still end in
``[SUCCESS]`` (a warning), and Windows error text is localised and may run over several lines,
which belong to the error above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common import strip_subject_markers
from .common_b import local_time, mail_text, worst

SOFTWARE = "Hyper-V Backup Utility"

_SUBJECT = re.compile(r"^(?P<prefix>.*?)\s*(?P<ok>\d+)\s*/\s*(?P<total>\d+) VMs Successful\s*$", re.I)
_LINE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d) "
    r"\[(?P<level>INFO|SUCCESS|ERROR|WARNING)\] (?:\(VM:(?P<vm>[^)]*)\) )?(?P<msg>.*)$"
)


@dataclass
class _Vm:
    name: str
    success: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class HyperVBackupUtilityParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _SUBJECT.search(strip_subject_markers(" ".join((mail.subject or "").split())))
        text = mail_text(mail)
        vms: dict[str, _Vm] = {}
        job_errors: list[str] = []
        first = None
        # The list an error's continuation lines are appended to (None outside an error).
        open_error: list[str] | None = None
        for raw in text.split("\n"):
            line = _LINE.match(raw.strip())
            if not line:
                if open_error is not None and raw.strip():
                    open_error[-1] += "\n" + raw.strip()
                else:
                    open_error = None
                continue
            first = first or line
            open_error = None
            level, name, message = line["level"], line["vm"], line["msg"]
            if name is None:
                if level == "ERROR":
                    job_errors.append(message)
                    open_error = job_errors
                continue
            vm = vms.setdefault(name, _Vm(name))
            if level == "SUCCESS":
                vm.success = True
            elif level == "ERROR":
                vm.errors.append(message)
                open_error = vm.errors
            elif level == "WARNING":
                vm.warnings.append(message)

        if not subject and not vms:
            raise ParseError("subject has no 'N/M VMs Successful' and the body no VM log lines")
        all_ok = bool(subject) and subject["ok"] == subject["total"]

        objects = []
        for vm in vms.values():
            status: Status
            if vm.errors:
                status = "warning" if vm.success else "failed"
            elif vm.success:
                status = "warning" if vm.warnings else "success"
            else:
                # No outcome line for this VM (log cut short): the subject count decides.
                status = "success" if all_ok else "failed"
            error = "\n".join(vm.errors or vm.warnings) or None
            objects.append(ParsedObject(name=vm.name, type="VM", status=status, error=error))

        overall = worst(o.status for o in objects)
        if subject and not all_ok:
            overall = "failed"
        elif job_errors:
            overall = worst((overall, "warning"))
        prefix = subject["prefix"].strip(" :-") if subject else ""
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="Export",
            job_name=prefix or "Hyper-V Backup Utility",
            overall_status=overall,
            objects=tuple(objects),
            run_at=local_time(mail, *(int(first[k]) for k in ("y", "mo", "d", "h", "mi", "s"))) if first else None,
            message="\n".join(job_errors) or None,
        )


HYPERV_BACKUP_UTILITY_PARSER = HyperVBackupUtilityParser(
    key="hyperv_backup_utility",
    name="Hyper-V Backup Utility (PowerShell) log",
    software=SOFTWARE,
    backup_types=("Export",),
    rules=(
        MatchRule(subject_regex=r"\d+\s*/\s*\d+ VMs Successful\s*$"),
        MatchRule(subject_contains="Hyper-V Backup Utility"),
    ),
    example="Hyper-V Backup Utility Log 2/2 VMs Successful",
)
