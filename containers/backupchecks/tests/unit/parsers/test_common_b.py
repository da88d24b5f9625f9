"""The shared helpers of the other-products parsers: HTML rendering and stated times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.app.parsers.base import NormalizedMail
from backend.app.parsers.common_b import element_text, epoch_time, local_time, mail_text, parse_html


def test_element_text_keeps_layout_and_optional_markdown_markers() -> None:
    root = parse_html(
        "<html><head><title>T</title><style>p{}</style></head><body><h2>Global</h2>"
        "<p>a<!-- x -->b<br>c<?pi x?>d</p><table><tr><td>k</td><td>v</td></tr></table>"
        "<ul><li>one</li></ul><script>bad()</script>tail</body></html>"
    )
    assert root is not None
    assert element_text(root, markdown=True) == "## Global\nab\ncd\nk\tv\n\n- one\n\ntail"
    assert element_text(root) == "Global\nab\ncd\nk\tv\n\none\n\ntail"


def test_mail_text_normalises_line_ends_and_falls_back_to_html() -> None:
    assert mail_text(NormalizedMail("a@example.com", "s", "x\r\ny\rz")) == "x\ny\nz"
    assert mail_text(NormalizedMail("a@example.com", "s", " ", "<p>hi</p>")) == "hi"


def test_local_time_uses_the_date_header_offset_or_nothing() -> None:
    mail = NormalizedMail("a@example.com", "s", date_offset=timedelta(hours=2))
    assert local_time(mail, 2025, 3, 4, 1, 0) == datetime(2025, 3, 3, 23, 0, tzinfo=UTC)
    assert local_time(mail, 2025, 2, 30, 1, 0) is None
    assert local_time(NormalizedMail("a@example.com", "s"), 2025, 3, 4, 1, 0) is None


def test_epoch_time() -> None:
    assert epoch_time("1550384630") == datetime(2019, 2, 17, 6, 23, 50, tzinfo=UTC)
    assert epoch_time("9" * 30) is None
