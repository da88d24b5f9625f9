"""Edge cases of the smaller "other products" parsers: borgmatic, Borg (YunoHost), Hyper-V Backup
Utility, Syncovery, UrBackup and the Windows Server Backup mail script."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.app.parsers.base import NormalizedMail, ParseError
from backend.app.parsers.borg import BORG_PARSER
from backend.app.parsers.borgmatic import BORGMATIC_PARSER
from backend.app.parsers.hyperv_backup_utility import HYPERV_BACKUP_UTILITY_PARSER
from backend.app.parsers.syncovery import SYNCOVERY_PARSER
from backend.app.parsers.urbackup import URBACKUP_PARSER
from backend.app.parsers.windows_server_backup import WSB_SCRIPT_PARSER


def mail(subject: str, text: str = "") -> NormalizedMail:
    return NormalizedMail("backup@example.com", subject, text, "", None, (), timedelta(hours=1))


# --- borgmatic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "state_type", "status"),
    [
        ("[srv01] borgmatic backup failed", "Backup", "failed"),
        ("borgmatic started on srv01", "Start event", "success"),
        ("borgmatic finished on srv01", "Backup", "success"),
        ("borgmatic logs for srv01", "Log event", "success"),
    ],
)
def test_borgmatic_custom_titles(subject: str, state_type: str, status: str) -> None:
    result = BORGMATIC_PARSER.parse(mail(subject, "custom body"))
    assert (result.backup_type, result.overall_status) == (state_type, status)


def test_borgmatic_failure_outside_a_repository_and_unknown_titles() -> None:
    text = (
        "A borgmatic FAIL event happened\n\nlocal: Creating archive\n"
        "/etc/borgmatic/config.yaml: Error running before_backup hook\n"
    )
    result = BORGMATIC_PARSER.parse(mail("A borgmatic FAIL event happened", text))
    assert result.objects == () and result.message == "/etc/borgmatic/config.yaml: Error running before_backup hook"
    with pytest.raises(ParseError):
        BORGMATIC_PARSER.parse(mail("borgmatic", "nothing to go on"))
    with pytest.raises(ParseError):
        BORGMATIC_PARSER.parse(mail("Nightly report", "no state"))


def test_borgmatic_repository_error_followed_by_another_label() -> None:
    text = "A borgmatic FAIL event happened\n\nnas: Error running actions for repository\nnas: Creating archive\n"
    result = BORGMATIC_PARSER.parse(mail("A borgmatic FAIL event happened", text))
    assert [(o.name, o.status, o.error) for o in result.objects] == [("nas", "failed", None)]


# --- Borg (YunoHost) ----------------------------------------------------------------------------


def test_borg_subject_must_follow_the_app_pattern() -> None:
    with pytest.raises(ParseError):
        BORG_PARSER.parse(mail("[borg] Backup started"))


# --- Hyper-V Backup Utility ---------------------------------------------------------------------


def test_hvbu_job_errors_warnings_and_vms_without_outcome() -> None:
    text = """2025-03-04 22:00:01 [ERROR] Backup location \\\\nas\\vms is not reachable
retrying with the working directory
2025-03-04 22:00:02 [INFO] (VM:vm1) Attempting to export VM
2025-03-04 22:10:00 [WARNING] (VM:vm2) VM is off
2025-03-04 22:10:01 [SUCCESS] (VM:vm2) Backup Successful
"""
    result = HYPERV_BACKUP_UTILITY_PARSER.parse(mail("Hyper-V Backup Utility Log 2/2 VMs Successful", text))
    assert [(o.name, o.status, o.error) for o in result.objects] == [
        ("vm1", "success", None),
        ("vm2", "warning", "VM is off"),
    ]
    assert result.overall_status == "warning"
    assert result.message == "Backup location \\\\nas\\vms is not reachable\nretrying with the working directory"
    short = HYPERV_BACKUP_UTILITY_PARSER.parse(mail("Hyper-V Backup Utility Log 1/2 VMs Successful", text))
    assert short.overall_status == "failed" and short.objects[0].status == "failed"


def test_hvbu_without_count_or_log() -> None:
    with pytest.raises(ParseError):
        HYPERV_BACKUP_UTILITY_PARSER.parse(mail("Hyper-V Backup Utility", "nothing"))
    text = "2025-03-04 22:10:01 [SUCCESS] (VM:vm2) Backup Successful\n"
    result = HYPERV_BACKUP_UTILITY_PARSER.parse(mail("Hyper-V Backup Utility", text))
    assert result.job_name == "Hyper-V Backup Utility" and result.objects[0].status == "success"


# --- Syncovery ----------------------------------------------------------------------------------


def test_syncovery_needs_a_profile_and_a_result() -> None:
    with pytest.raises(ParseError, match="profile name"):
        SYNCOVERY_PARSER.parse(mail("Syncovery", "nothing"))
    with pytest.raises(ParseError, match="cannot read a result"):
        SYNCOVERY_PARSER.parse(mail("Syncovery", "Profile: Nightly\nResult: pending\n"))


def test_syncovery_failure_without_error_lines_reports_the_result() -> None:
    result = SYNCOVERY_PARSER.parse(mail("Syncovery", "Profile: Nightly\nResult: Failed\n"))
    assert result.objects[0].error == "Failed" and result.run_at is None
    warned = SYNCOVERY_PARSER.parse(
        mail("Syncovery", "Profile: Nightly\nResult: Completed with warnings\nError copying a.txt: locked\n")
    )
    assert warned.objects[0].error == "Error copying a.txt: locked"


# --- UrBackup -----------------------------------------------------------------------------------


def test_urbackup_needs_a_client_and_a_result() -> None:
    with pytest.raises(ParseError, match="client"):
        URBACKUP_PARSER.parse(mail("UrBackup: report", "nothing"))
    with pytest.raises(ParseError, match="counts"):
        URBACKUP_PARSER.parse(mail('UrBackup: Full file backup of "PC-02"', "nothing"))


def test_urbackup_failed_without_error_lines() -> None:
    result = URBACKUP_PARSER.parse(mail('UrBackup: Full image backup of "PC-02" - failed', "no log"))
    assert result.overall_status == "failed" and result.objects[0].error is None and result.run_at is None


# --- Windows Server Backup (mail script) --------------------------------------------------------


def test_wsb_needs_subject_and_sentence() -> None:
    with pytest.raises(ParseError):
        WSB_SCRIPT_PARSER.parse(mail("SRV01 - Backup Success", "Backup done."))


def test_wsb_failure_without_details_and_an_impossible_start_time() -> None:
    result = WSB_SCRIPT_PARSER.parse(mail("SRV01 - Backup Failure", "A backup on SRV01 has failed."))
    assert result.objects[0].error == "A backup on SRV01 has failed."
    odd = WSB_SCRIPT_PARSER.parse(
        mail(
            "SRV01 - Backup Failure",
            "A backup on SRV01 has failed.\n"
            "The backup operation that started at '2025-13-05T22:00:03.411Z' has failed.",
        )
    )
    assert odd.run_at is None
