"""Edge cases of the BackupPC parsers beyond the golden fixtures."""

from __future__ import annotations

import pytest

from backend.app.parsers.backuppc import BACKUPPC_LOG_PARSER, BACKUPPC_PARSER
from backend.app.parsers.base import NormalizedMail, ParseError


def mail(subject: str, text: str = "") -> NormalizedMail:
    return NormalizedMail("backuppc@example.com", subject, text)


def test_a_body_without_the_problem_sentence() -> None:
    result = BACKUPPC_PARSER.parse(mail("BackupPC: no recent backups on pc01", "Dear user,\n\nRegards"))
    assert result.objects[0].error is None


def test_admin_mail_with_only_bogus_directories() -> None:
    text = "The following directories are bogus and are not being used by\nBackupPC.\n  - /var/lib/backuppc/pc/old\n"
    result = BACKUPPC_PARSER.parse(mail("BackupPC administrative attention needed", text))
    assert result.overall_status == "warning" and result.objects == ()
    assert result.message == "Bogus directories found under the pc directory"


def test_server_down_mail() -> None:
    text = "Error: cannot connect to BackupPC server.\n"
    result = BACKUPPC_PARSER.parse(mail("BackupPC: can't connect to server", text))
    assert result.overall_status == "failed" and result.message == "Error: cannot connect to BackupPC server."


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("BackupPC administrative attention needed", "Regards,\nPC Backup Genie"),
        ("BackupPC: custom subject", ""),
    ],
)
def test_unreadable_notices(subject: str, text: str) -> None:
    with pytest.raises(ParseError):
        BACKUPPC_PARSER.parse(mail(subject, text))


def test_log_parser_needs_log_lines_and_reads_cancellations() -> None:
    assert BACKUPPC_LOG_PARSER.why_not(mail("x", "a backup on nothing")) is not None
    with pytest.raises(ParseError):
        BACKUPPC_LOG_PARSER.parse(mail("x", "no log here"))
    text = (
        "2025-03-04 01:00:03 Started full backup on pc01 (pid=1, share=/)\n"
        "2025-03-04 01:10:00 Backup canceled on pc01 (received signal=INT)\n"
        "2025-03-04 01:11:00 Backup canceled on pc02\n"
    )
    result = BACKUPPC_LOG_PARSER.parse(mail("x", text))
    assert [(o.name, o.status, o.error) for o in result.objects] == [
        ("pc01", "failed", "received signal=INT"),
        ("pc02", "failed", None),
    ]
    assert result.run_at is None  # no Date header offset to place the log's wall-clock times
