"""Edge cases of the Bacula / Bareos parser beyond the golden fixtures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.app.parsers.bacula import BACULA_PARSER
from backend.app.parsers.base import NormalizedMail, ParseError


def mail(subject: str, text: str = "") -> NormalizedMail:
    return NormalizedMail("backups@example.com", subject, text, "", None, (), timedelta(hours=1))


def summary(**fields: str) -> str:
    return "".join(f"  {key}: {value}\n" for key, value in fields.items())


def test_subject_exit_status_when_there_is_no_termination_line() -> None:
    result = BACULA_PARSER.parse(mail("Bacula: Backup OK -- with warnings of fs-fd Full", "no summary"))
    assert result.overall_status == "warning" and result.job_name == "fs-fd"
    assert result.objects[0].error is None and result.run_at is None


def test_unknown_termination_falls_back_to_the_subject_and_iso_start_times() -> None:
    text = summary(
        Job="Nightly.2025-03-04_23.05.00_03",
        Client='"fs-fd" 13.0',
        **{"Start time": "2025-03-04 23:05:02", "Termination": "Unknown term code"},
    )
    result = BACULA_PARSER.parse(mail("Bacula: Backup Error of fs-fd Full", text))
    assert result.overall_status == "failed" and result.objects[0].error == "Unknown term code"
    assert result.run_at is not None and result.run_at.isoformat() == "2025-03-04T22:05:02+00:00"


@pytest.mark.parametrize("start", ["04-Xyz-2025 23:05:02", "yesterday"])
def test_unreadable_start_times(start: str) -> None:
    text = summary(Job="Nightly", **{"Start time": start, "Termination": "Backup OK"})
    assert BACULA_PARSER.parse(mail("", text)).run_at is None


def test_summary_without_subject_or_client() -> None:
    result = BACULA_PARSER.parse(mail("", summary(Job="Nightly.2025-03-04_23.05.00_03", Termination="Backup OK")))
    assert result.job_name == "Nightly" and result.objects == () and result.backup_type == "Backup"
    failed = BACULA_PARSER.parse(mail("", summary(Job="Nightly", Termination="*** Backup Error ***")))
    assert failed.message == "*** Backup Error ***"


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Bacula: something else", ""),
        ("", summary(Termination="Unknown term code")),
        ("", summary(Termination="Backup OK")),
    ],
)
def test_unreadable_reports(subject: str, text: str) -> None:
    with pytest.raises(ParseError):
        BACULA_PARSER.parse(mail(subject, text))
