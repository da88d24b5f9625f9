"""normalize_eml, decode_header_value, decode_bytes and html_to_text on the mails the wild sends."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from backend.app.parsers.normalize import (
    decode_bytes,
    decode_header_value,
    html_to_text,
    normalize_eml,
    parse_html,
)


def eml(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


HEAD = ("From: Backup Server <Backup@Example.COM>", "To: ops@example.net", "Subject: Nightly",
        "Date: Tue, 07 Mar 2023 22:15:31 +0100", "Message-ID: <1@example.com>", "MIME-Version: 1.0")


# --- structure ------------------------------------------------------------------------------------


def test_multipart_alternative_gives_text_and_html_with_their_encodings() -> None:
    html = "<p>Caf\u00e9 \u2013 ok</p>".encode()
    raw = eml(
        *HEAD, 'Content-Type: multipart/alternative; boundary="b1"',
        body=(b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
              b"Caf=C3=A9 =E2=80=93 ok=\r\n and on\r\n"
              b"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              + base64.encodebytes(html) + b"--b1--\r\n"),
    )
    mail = normalize_eml(raw)
    assert mail.from_address == "backup@example.com"
    assert mail.subject == "Nightly"
    assert mail.text_body.startswith("Café – ok and on")
    assert mail.html_body == "<p>Café – ok</p>"
    assert mail.received_at == datetime(2023, 3, 7, 21, 15, 31, tzinfo=UTC)
    assert mail.date_offset == timedelta(hours=1)
    assert mail.attachments == ()


def test_attachments_are_kept_and_text_attachments_are_not_bodies() -> None:
    raw = eml(
        *HEAD, 'Content-Type: multipart/mixed; boundary="m"',
        body=(b"--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
              b"--m\r\nContent-Type: text/html; charset=utf-8\r\n"
              b"Content-Disposition: attachment; filename=\"report.html\"\r\n\r\n"
              b"<p>detailed</p>\r\n"
              b"--m\r\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
              b"--m\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--m--\r\n"),
    )
    mail = normalize_eml(raw)
    assert mail.text_body.strip() == "see attached"
    assert mail.html_body == ""
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("report.html", "text/html", b"<p>detailed</p>"),
        ("résumé.pdf", "application/pdf", b"%PDF-1.4"),
        ("", "image/png", b"\x89PNG"),
    ]


def test_a_forwarded_attachment_exposes_the_original() -> None:
    inner = eml("From: vbr@example.com", "Subject: [Failed] Job A (1 VMs)", "Date: Mon, 1 Jan 2024 01:00:00 +0000",
                "Content-Type: text/html; charset=utf-8", body=b"<b>Backup job: Job A</b>")
    raw = eml(*HEAD[:2], "Subject: Fwd: [Failed] Job A (1 VMs)", 'Content-Type: multipart/mixed; boundary="x"',
              body=b"--x\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
              + inner + b"\r\n--x--\r\n")
    mail = normalize_eml(raw)
    assert mail.html_body == "<b>Backup job: Job A</b>"
    assert "---------- Forwarded message ----------" in mail.text_body
    assert "Subject: [Failed] Job A (1 VMs)" in mail.text_body
    (attachment,) = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "[Failed] Job A (1 VMs).eml"
    assert b"Backup job: Job A" in attachment.data
    assert mail.received_at is None and mail.date_offset is None


def test_a_forwarded_part_without_a_message_is_kept_as_bytes() -> None:
    raw = eml(*HEAD, 'Content-Type: multipart/mixed; boundary="x"',
              body=b"--x\r\nContent-Type: message/rfc822\r\n\r\n\r\n--x--\r\n")
    mail = normalize_eml(raw)
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


def test_a_forwarded_message_that_cannot_be_reserialised_still_gives_its_body(monkeypatch) -> None:
    from email.message import Message

    def broken(self, *args, **kwargs):
        raise UnicodeEncodeError("ascii", "x", 0, 1, "boom")

    inner = eml("From: a@example.com", "Subject: Inner", body=b"inner text")
    raw = eml(*HEAD, 'Content-Type: multipart/mixed; boundary="x"',
              body=b"--x\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--x--\r\n")
    monkeypatch.setattr(Message, "as_bytes", broken)
    mail = normalize_eml(raw)
    assert "inner text" in mail.text_body
    assert mail.attachments[0].data == b""


def test_pathological_nesting_stops_without_error() -> None:
    body = b""
    depth = 30
    for level in range(depth):
        body += f'--b{level}\r\nContent-Type: multipart/mixed; boundary="b{level + 1}"\r\n\r\n'.encode()
    body += b"--b30\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--b30--\r\n"
    raw = eml(*HEAD, 'Content-Type: multipart/mixed; boundary="b0"', body=body)
    assert normalize_eml(raw).text_body == ""


def test_broken_base64_and_a_single_part_mail() -> None:
    raw = eml(*HEAD, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
              body=b"SGVsbG8gd29ybGQ!!!*")
    assert "Hello" in normalize_eml(raw).text_body


def test_a_mail_without_content_type_is_plain_text() -> None:
    assert normalize_eml(eml(*HEAD, body=b"plain body")).text_body == "plain body"


# --- charsets -------------------------------------------------------------------------------------


def test_vb365_utf16_without_bom_is_read_little_endian() -> None:
    html = "<p>Backup job: Daily M365 Backup</p>"
    raw = eml(*HEAD, 'Content-Type: text/html; charset="utf-16"', "Content-Transfer-Encoding: base64",
              body=base64.encodebytes(html.encode("utf-16-le")))
    assert normalize_eml(raw).html_body == html


@pytest.mark.parametrize(
    ("data", "charset"),
    [
        ("\ufeffSuccess ✓".encode("utf-16-le"), "utf-16"),
        ("\ufeffSuccess ✓".encode("utf-16-be"), None),
        ("Success ✓".encode("utf-16-be"), "utf-16"),
        ("Success ✓".encode("utf-16-le"), "utf-16-le"),
        ("Success ✓".encode("utf-16-le"), "utf-8"),  # declared wrongly; the NUL bytes tell
        ("Success ✓".encode("utf-16-be"), None),
    ],
)
def test_utf16_variants(data: bytes, charset: str | None) -> None:
    assert decode_bytes(data, charset).lstrip("\ufeff") == "Success ✓"


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"", "utf-8", ""),
        ("Größe".encode("latin-1"), "utf-8", "Größe"),  # declared UTF-8, really Latin-1
        ("Größe".encode(), "us-ascii", "Größe"),  # declared ASCII, really UTF-8
        ("Größe".encode(), "x-no-such-charset", "Größe"),
        ("Größe".encode("cp1252"), "unknown-8bit", "Größe"),
        ("naïve – ok".encode("cp1252"), None, "naïve – ok"),
        (b"\x81\x8d", None, "\x81\x8d"),  # not Windows-1252 either: Latin-1 takes every byte
        ("Größe".encode() + b"\xff", "utf-8", "Größe\ufffd"),  # damaged UTF-8 keeps its good part
        ("\ufeffBOM".encode(), None, "BOM"),
        ("Grüße".encode("iso-8859-15"), '"ISO-8859-15"', "Grüße"),
        ("Grüße".encode(), "UTF8", "Grüße"),
        ("Grüße".encode(), "utf-8*de", "Grüße"),
        (b"x", "utf-32", "x"),  # not valid UTF-32: falls through to UTF-8
    ],
)
def test_wrong_and_unknown_charsets(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_a_body_in_a_wrong_charset_is_still_read() -> None:
    raw = eml(*HEAD, "Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 8bit",
              body="Sauvegarde réussie".encode())
    assert normalize_eml(raw).text_body == "Sauvegarde réussie"


# --- headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("plain", "plain"),
        ("=?utf-8?q?Caf=C3=A9?= =?iso-8859-1?b?Q2Fm6Q==?= und mehr", "CaféCafé und mehr"),
        ("=?UTF-8?Q?[nas03]_T=C3=A4glich?=", "[nas03] Täglich"),
        ("=?bogus?q?x=E9?=", "xé"),
        ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),  # not base64: kept as written
        ("=?utf-8?B?Q2Fm?=\r\n =?utf-8?B?w6k=?=", "Café"),
        ("folded\r\n\tsubject  line", "folded subject line"),
        (b"Gr\xfc\xdfe", "Grüße"),
        ("Gr\udcfc\udcdfe", "Grüße"),  # 8-bit header bytes kept by the email package
    ],
)
def test_decode_header_value(value: object, expected: str) -> None:
    assert decode_header_value(value) == expected


@pytest.mark.parametrize(
    ("from_header", "expected"),
    [
        ("From: =?utf-8?q?Veeam_B=26R?= <VBR01@Example.com>", "vbr01@example.com"),
        ("From: Synology", "Synology"),
        ("From: broken <<nas01@example.com", "nas01@example.com"),
        ("From:", ""),
    ],
)
def test_from_address(from_header: str, expected: str) -> None:
    assert normalize_eml(eml(from_header, "Subject: x", body=b"b")).from_address == expected


def test_an_8bit_subject_is_decoded() -> None:
    raw = b"From: a@example.com\r\nSubject: Sicherung erfolgreich \xfcberall\r\n\r\nbody"
    assert normalize_eml(raw).subject == "Sicherung erfolgreich überall"


@pytest.mark.parametrize(
    ("date", "received", "offset"),
    [
        ("Tue, 07 Mar 2023 22:15:31 -0000", datetime(2023, 3, 7, 22, 15, 31, tzinfo=UTC), None),
        ("Sat, 25 May 2024 23:48:10 +0200", datetime(2024, 5, 25, 21, 48, 10, tzinfo=UTC), timedelta(hours=2)),
        ("not a date", None, None),
        ("", None, None),
    ],
)
def test_received_at_is_utc_and_keeps_the_offset(date: str, received: datetime | None,
                                                  offset: timedelta | None) -> None:
    mail = normalize_eml(eml("From: a@example.com", "Subject: s", f"Date: {date}", body=b"x"))
    assert mail.received_at == received
    assert mail.date_offset == offset


# --- not a mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n  ",
        b"\x00\x01\x02 random bytes \xff\xfe",
        b"just a line of text\nand another",
        b"X-Custom: 1\r\nContent-Type: text/plain\r\n\r\nno from, no subject",
    ],
)
def test_not_a_mail(raw: bytes) -> None:
    with pytest.raises(ValueError, match="^not a mail: "):
        normalize_eml(raw)


def test_not_bytes() -> None:
    with pytest.raises(ValueError, match="expected bytes"):
        normalize_eml("From: a@example.com")  # type: ignore[arg-type]


def test_a_mail_with_only_a_subject_is_a_mail() -> None:
    mail = normalize_eml(b"Subject: only\r\n\r\nbody")
    assert (mail.from_address, mail.subject, mail.text_body) == ("", "only", "body")


# --- HTML -------------------------------------------------------------------------------------------


def test_html_to_text_renders_like_a_mail_client() -> None:
    html = ("<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp; <b>world</b></p>"
            "<table><tr><td>Name</td><td> Status </td></tr><tr><td>SRV01</td><td>Success</td></tr></table>"
            "<!-- hidden -->after comment<script>alert(1)</script> and script<br>line<br/><br>two<?pi x?>"
            "<div>block</div>tail</body></html>")
    assert html_to_text(html) == (
        "Hello world\nName\tStatus\nSRV01\tSuccess\nafter comment and script\nline\n\ntwo\nblock\ntail"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("", ""),
        ("   \n ", ""),
        ('<?xml version="1.0" encoding="utf-8"?><p>xml declared</p>', "xml declared"),
        ("<p>nul\x00 byte</p>", "nul byte"),
        ("<td>unclosed <b>tags", "unclosed tags"),
        ("plain text, no tags", "plain text, no tags"),
    ],
)
def test_html_to_text_survives_broken_input(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize("lean", [False, True])
def test_parse_html_gives_none_for_nothing_parseable(lean: bool) -> None:
    assert parse_html("", lean=lean) is None
    assert parse_html("<!-- only a comment -->", lean=lean) is None
    assert parse_html("\x00\x00", lean=lean) is None
    assert parse_html('<?xml version="1.0" encoding="utf-8"?><!-- c -->', lean=lean) is None


@pytest.mark.parametrize("lean", [False, True])
def test_parse_html_reads_a_declared_xml_document(lean: bool) -> None:
    root = parse_html('<?xml version="1.0" encoding="utf-8"?><p>Sicherung \u2013 ok</p>', lean=lean)
    assert root is not None and "".join(root.itertext()) == "Sicherung \u2013 ok"


def test_text_of_a_sub_element_and_its_rows() -> None:
    from backend.app.parsers.common import html_rows
    from backend.app.parsers.normalize import element_text

    root = parse_html("<div><p>intro</p><table><tr><td>a<br>b</td><td>c</td></tr></table></div><p>after</p>")
    table = root.find(".//table")
    assert element_text(table) == "a\nb\tc"
    assert html_rows(table) == [["a\nb", "c"]]
    assert html_rows(root) == [["a\nb", "c"]]


# --- shared text helpers (parsers/common.py) --------------------------------------------------------

from backend.app.parsers.base import NormalizedMail  # noqa: E402
from backend.app.parsers.common import (  # noqa: E402
    label_value,
    stated_datetime,
    status_from_text,
    strip_subject_markers,
    worst,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("Success", "success"),
        ("partially successful", "warning"),
        ("gedeeltelijk voltooid", "warning"),
        ("teilweise erfolgreich", "warning"),
        ("Unsuccessful", "failed"),
        ("non riuscita", "failed"),
        ("completata", "success"),
        ("Pending", None),
    ],
)
def test_status_from_text(text: str | None, expected: str | None) -> None:
    assert status_from_text(text) == expected


def test_worst_ignores_unknown_entries() -> None:
    assert worst([None, "success", "warning", None]) == "warning"
    assert worst([], default="failed") == "failed"


def test_strip_subject_markers() -> None:
    assert strip_subject_markers("FW: Re: Doorst: WG: [Success] Job") == "[Success] Job"


def test_label_value_variants() -> None:
    lines = ["Job type: Backup job for VMware", "Jobs are listed below", "Status", "Success", "Duration :  0:10:00",
             "Reason"]
    assert label_value(lines, ["Job"]) is None  # "Job type" is not the label "Job"
    assert label_value(lines, ["Status"]) == "Success"  # a label alone: the value is on the next line
    assert label_value(lines, ["Duration"]) == "0:10:00"
    assert label_value(lines, ["Reason"]) is None  # alone on the last line: no value


OFFSET_MAIL = NormalizedMail("a@example.com", "s", received_at=datetime(2024, 3, 5, 21, 0, tzinfo=UTC),
                             date_offset=timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("no date here", None),
        ("Monday, July 7, 2025 3:55:00 AM", datetime(2025, 7, 7, 2, 55, tzinfo=UTC)),
        ("Dienstag, 5. März 2024 22:00:12", datetime(2024, 3, 5, 21, 0, 12, tzinfo=UTC)),
        ("5 Smarch 2024 22:00", None),  # not a month
        ("05/03/2024 22:00", datetime(2024, 3, 5, 21, 0, tzinfo=UTC)),  # day-first: closest to arrival
        ("03/05/2024 10:00 PM", datetime(2024, 3, 5, 21, 0, tzinfo=UTC)),  # month-first: closest to arrival
        ("2024-03-05 22:00 +02:00", datetime(2024, 3, 5, 20, 0, tzinfo=UTC)),  # its own offset wins
        ("Tue Mar 05 2024 at 22:00:00 GMT-0400", datetime(2024, 3, 6, 2, 0, tzinfo=UTC)),  # JS date string
        ("2024-03-05 22:00 +25:00", None),  # an impossible offset
        ("31/02/2024 22:00", None),  # no valid reading
        ("5/3/24 22:00", datetime(2024, 3, 5, 21, 0, tzinfo=UTC)),
    ],
)
def test_stated_datetime(text: str | None, expected: datetime | None) -> None:
    assert stated_datetime(text, OFFSET_MAIL) == expected


def test_stated_datetime_needs_the_date_header_offset() -> None:
    assert stated_datetime("2024-03-05 22:00", NormalizedMail("a@example.com", "s")) is None
    # Ambiguous digits and no arrival time to compare with: unknown rather than guessed.
    ambiguous = NormalizedMail("a@example.com", "s", date_offset=timedelta(hours=1))
    assert stated_datetime("05/03/2024 22:00", ambiguous) is None
    assert stated_datetime("25/03/2024 22:00", ambiguous) == datetime(2024, 3, 25, 21, 0, tzinfo=UTC)


def test_long_runs_of_spaces_render_in_linear_time():
    """A body with a huge run of spaces once took seconds per mail (a backtracking regex); the
    result must still be the two words on their own lines."""
    from backend.app.parsers.normalize import html_to_text

    html = "<div>first" + " " * 200_000 + "</div><div>" + " " * 100_000 + "second</div>"
    assert html_to_text(html) == "first\nsecond"
