"""Edge cases of the Xen Orchestra parser beyond the golden fixtures: date styles, headings, subjects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.app.parsers.base import NormalizedMail, ParseError
from backend.app.parsers.xen_orchestra import XO_PARSER, parse_time

MINUS = "\u2212"


def mail(
    subject: str,
    text: str = "",
    html: str = "",
    received: datetime | None = None,
    offset: timedelta | None = timedelta(hours=1),
) -> NormalizedMail:
    return NormalizedMail("xo@example.com", subject, text, html, received, (), offset)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-11-02T22:00:00+01:00", "2017-11-02T21:00:00+00:00"),
        ("2017-11-02T22:00:00Z", "2017-11-02T22:00:00+00:00"),
        ("2017-11-02T22:00:00-0500", "2017-11-03T03:00:00+00:00"),
        ("Tue Apr 18 2017 18:00:00 GMT+0200", "2017-04-18T16:00:00+00:00"),
        ("Tuesday, April 18th 2017, 12:30:00 pm", "2017-04-18T11:30:00+00:00"),
        ("Tuesday, April 18th 2017, 12:30:00 am", "2017-04-17T23:30:00+00:00"),
        ("Tue Xyz 18 2017 18:00:00 GMT+0200", None),
        ("Tuesday, Smarch 18th 2017, 1:00:00 am", None),
        ("Tue Feb 30 2017 18:00:00 GMT+0200", None),
        ("an hour ago", None),
    ],
)
def test_parse_time_reads_the_three_date_styles(value: str, expected: str | None) -> None:
    result = parse_time(value, mail("x"))
    assert (result.isoformat() if result else None) == expected


def test_vm_warning_and_missing_vm_and_start_time_without_end() -> None:
    text = """## Global status: success

- **Start time**: Tuesday, March 4th 2025, 1:00:00 am
- **Successes**: 2 / 2

## 2 Successes

### srv-app01
- **UUID**: 1
- **⚠️ VM is not running, backup may be inconsistent**

### VM not found

- **UUID**: 9c8b7a65-4321-0fed-cba9-876543210fed
"""
    result = XO_PARSER.parse(mail(f"[Xen Orchestra] success {MINUS} Backup report for Nightly ✔", text))
    assert [(o.name, o.status, o.error) for o in result.objects] == [
        ("srv-app01", "warning", "VM is not running, backup may be inconsistent"),
        ("9c8b7a65-4321-0fed-cba9-876543210fed", "success", None),
    ]
    assert result.overall_status == "warning"
    assert result.run_at == datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_run_time_is_kept_when_the_end_time_fits_the_date_header() -> None:
    text = """## Global status: success
- **Start time**: Tuesday, March 4th 2025, 1:00:00 am
- **End time**: Tuesday, March 4th 2025, 1:10:00 am
"""
    received = datetime(2025, 3, 4, 0, 10, 5, tzinfo=UTC)
    subject = f"[Xen Orchestra] success {MINUS} Backup report for Nightly ✔"
    result = XO_PARSER.parse(mail(subject, text, received=received))
    assert result.run_at == datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_historic_subject_and_body_status() -> None:
    text = """## Global status for "nightly" (Rolling Snapshot): Fail
### VM : srv01
  - UUID: 1
  - Status: Fail
  - Error: SR_BACKEND_FAILURE_44(, There is insufficient space, )
### VM : srv02
  - Status: Success
"""
    result = XO_PARSER.parse(mail('Backup Reports for "nightly" (Xen Orchestra)', text))
    assert result.job_name == "nightly" and result.overall_status == "failed"
    assert [o.status for o in result.objects] == ["failed", "success"]


def test_job_name_from_the_body_when_the_subject_has_none() -> None:
    text = '## Global status for "weekly-dr" (Delta Copy): Success\n### VM : srv03\n  - Status: Success\n'
    assert XO_PARSER.parse(mail("Fwd: backup", text)).job_name == "weekly-dr"


def test_status_from_the_objects_when_nothing_states_one() -> None:
    text = "### VM : srv01\n  - Status: Success\n### VM : srv02\n  - Status: Fail\n"
    result = XO_PARSER.parse(mail('Backup Reports for "legacy" (Xen Orchestra)', text))
    assert result.overall_status == "failed"


@pytest.mark.parametrize(
    ("subject", "text", "reason"),
    [
        ("Fwd: backup", "nothing useful", "cannot find the job name"),
        (f"[Xen Orchestra] success {MINUS} Backup report for ✔", "", "names no job"),
        (f"[Xen Orchestra] pending {MINUS} Backup report for Nightly", "", "unknown Xen Orchestra status"),
        ('Backup Reports for "legacy" (Xen Orchestra)', "no report", "states no status"),
    ],
)
def test_unparseable_reports_raise_parse_error(subject: str, text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        XO_PARSER.parse(mail(subject, text))


def test_html_only_without_a_body_at_all() -> None:
    with pytest.raises(ParseError):
        XO_PARSER.parse(mail('Backup Reports for "legacy" (Xen Orchestra)', "", ""))
