"""Edge cases of the Acronis parser (assumed layout) beyond the golden fixtures."""

from __future__ import annotations

import pytest

from backend.app.parsers.acronis import ACRONIS_PARSER
from backend.app.parsers.base import NormalizedMail, ParseError


def mail(subject: str, text: str = "", html: str = "") -> NormalizedMail:
    return NormalizedMail("noreply-abc@cloud.acronis.com", subject, text, html)


def test_text_body_and_rows_that_are_not_label_value_pairs() -> None:
    html = "<table><tr><td>Backup report</td><td>for</td><td>today</td></tr></table>"
    result = ACRONIS_PARSER.parse(mail("Backup failed", "Device: SRV09\nError: Disk not found\n", "<p>x</p>"))
    assert result.objects[0].error == "Disk not found"
    plan = "<table><tr><td>Plan name</td><td>Servers</td></tr></table>"
    mixed = ACRONIS_PARSER.parse(mail("Backup failed", "", html + plan))
    assert mixed.job_name == "Servers" and mixed.objects == () and mixed.message is None


def test_recap_without_a_count_is_a_success() -> None:
    result = ACRONIS_PARSER.parse(mail("Daily recap about active alerts", "No active alerts."))
    assert result.informational and result.overall_status == "success" and result.message is None


@pytest.mark.parametrize(("subject", "text"), [("Acronis newsletter", "Device: x"), ("Backup succeeded", "nothing")])
def test_unreadable_mails(subject: str, text: str) -> None:
    with pytest.raises(ParseError):
        ACRONIS_PARSER.parse(mail(subject, text))
