"""Edge cases of the Duplicati parser beyond the golden fixtures."""

from __future__ import annotations

import pytest

from backend.app.parsers.base import NormalizedMail, ParseError
from backend.app.parsers.duplicati import DUPLICATI_PARSER


def mail(subject: str, text: str) -> NormalizedMail:
    return NormalizedMail("no-reply@example.com", subject, text)


def test_name_from_the_first_body_line_when_the_subject_is_custom() -> None:
    text = "Duplicati Backup report for Laptops\n\nMainOperation: Backup\nParsedResult: Success\n"
    result = DUPLICATI_PARSER.parse(mail("Nightly backup result", text))
    assert result.job_name == "Laptops" and result.overall_status == "success"


def test_operation_from_the_subject_when_the_body_has_no_main_operation() -> None:
    text = "Messages: []\nWarnings: [\n    Something odd happened\n]\nErrors: []\n"
    result = DUPLICATI_PARSER.parse(mail("Duplicati Restore report for Laptops", text))
    assert result.backup_type == "Restore" and result.informational
    assert result.overall_status == "warning" and result.objects[0].error == "Something odd happened"


def test_operation_defaults_to_backup() -> None:
    result = DUPLICATI_PARSER.parse(mail("Backup report for Laptops", "Errors: [\n    boom\n]\n"))
    assert result.backup_type == "Backup" and result.overall_status == "failed"


def test_log_data_with_an_impossible_date_gives_no_run_time() -> None:
    text = (
        "Failed: disk full\nDetails: System.IO.IOException\n\nLog data:\n"
        "2019-02-30 23:15:11 -08 - [Error-Duplicati.Library.Main.Operation.BackupHandler-FatalError]: "
        "Fatal error\n"
    )
    result = DUPLICATI_PARSER.parse(mail("Duplicati Backup report for Testing", text))
    assert result.run_at is None and result.message == "disk full"


@pytest.mark.parametrize(
    ("subject", "text", "reason"),
    [
        ("Duplicati", "ParsedResult: Success", "backup name"),
        ("Duplicati Backup report for X", "ParsedResult: Maybe\n", "unknown ParsedResult"),
        ("Duplicati Backup report for X", "DeletedFiles: 0\n", "no ParsedResult"),
    ],
)
def test_unreadable_reports(subject: str, text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        DUPLICATI_PARSER.parse(mail(subject, text))
