"""Property tests: whatever lands in a mailbox, only the contract's outcomes come out.

* ``normalize_eml`` returns a NormalizedMail or raises ValueError("not a mail: ...").
* Every parser in the registry, called directly on any normalised mail (matched or not), returns a
  ParseResult or raises ParseError; ``parse_mail`` and ``explain`` never raise and never report an
  internal parser error; ``matches`` and ``why_not`` agree.

The mails are the fixtures of every vendor folder, mangled: truncated (HTML cut mid-tag, MIME cut
mid-part), wrong or unknown charsets, wrong transfer encodings, random bytes spliced in, emptied
parts, dropped headers, and huge bodies. Example counts are bounded so the file runs in seconds.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app.parsers.base import NormalizedMail, ParseError, ParseResult
from backend.app.parsers.normalize import normalize_eml
from backend.app.parsers.registry import PARSERS, explain, parse_mail

from .conftest import fixture_mails

SEEDS: list[bytes] = [path.read_bytes() for path in fixture_mails()]
CHARSETS = [b"utf-8", b"us-ascii", b"utf-16", b"utf-16-be", b"iso-8859-1", b"x-unknown", b"bogus-charset",
            b"utf-32", b"shift_jis", b"", b"\xff\xfe"]
ENCODINGS = [b"base64", b"quoted-printable", b"8bit", b"7bit", b"x-uuencode", b"bogus"]
PROFILE = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_mail(mail: NormalizedMail) -> None:
    for parser in PARSERS:
        # find_parser uses matches(), explain() uses why_not(): they must agree.
        assert parser.matches(mail) == (parser.why_not(mail) is None), parser.key
        try:
            result = parser.parse(mail)
        except ParseError as exc:
            assert isinstance(exc.reason, str) and exc.reason
            continue
        assert isinstance(result, ParseResult), parser.key
        assert result.parser_key == parser.key
        result.to_dict()  # the JSON shape must always be producible
    outcome = parse_mail(mail)
    assert not (outcome.error or "").startswith("internal parser error"), outcome.error
    assert len(explain(mail)) == len(PARSERS)


def check_raw(raw: bytes) -> None:
    try:
        mail = normalize_eml(raw)
    except ValueError as exc:
        assert str(exc).startswith("not a mail: ")
        return
    assert isinstance(mail, NormalizedMail)
    check_mail(mail)


@st.composite
def mangled(draw: st.DrawFn, max_ops: int = 3) -> bytes:
    raw = draw(st.sampled_from(SEEDS))
    for op in draw(st.lists(st.sampled_from(["truncate", "charset", "encoding", "splice", "drop", "empty", "case"]),
                            max_size=max_ops)):
        if op == "truncate":
            raw = raw[: draw(st.integers(0, len(raw)))]
        elif op == "charset":
            raw = re.sub(rb'charset="?[\w-]*"?', b'charset="' + draw(st.sampled_from(CHARSETS)) + b'"', raw)
        elif op == "encoding":
            raw = re.sub(rb"(Content-Transfer-Encoding:) *\S+", rb"\1 " + draw(st.sampled_from(ENCODINGS)), raw)
        elif op == "splice":
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.binary(max_size=64)) + raw[at:]
        elif op == "drop":
            name = draw(st.sampled_from([b"From", b"Subject", b"Date", b"Content-Type", b"MIME-Version"]))
            raw = re.sub(rb"(?mi)^" + name + rb":.*\r?\n", b"", raw)
        elif op == "empty":
            # Empty every part body: keep part headers and boundaries only.
            raw = re.sub(rb"(\r?\n\r?\n)[^\r\n-][\s\S]*?(?=\r?\n--)", rb"\1", raw)
        else:
            raw = raw.swapcase()
    return raw


@PROFILE
@given(st.binary(max_size=3000))
def test_random_bytes(raw: bytes) -> None:
    check_raw(raw)


@PROFILE
@given(st.binary(max_size=400).map(lambda junk: b"From: a@example.com\r\nSubject: x\r\n" + junk))
def test_random_bytes_after_a_header_block(raw: bytes) -> None:
    check_raw(raw)


@settings(PROFILE, max_examples=150)
@given(mangled())
def test_mangled_fixture_mails(raw: bytes) -> None:
    check_raw(raw)


@settings(PROFILE, max_examples=3)
@given(st.sampled_from(SEEDS), st.integers(2_000, 6_000))
def test_huge_bodies(raw: bytes, repeat: int) -> None:
    # A report with thousands of rows (and a megabyte of HTML) still gives an outcome.
    row = b"<tr><td>VM-x</td><td>Failed</td><td>Error: disk full</td></tr>\r\n"
    check_raw(re.sub(rb"(?i)</table>", row * repeat + b"</table>", raw, count=1) + b"x" * 50_000)


SUBJECTS = [normalize_eml(raw).subject for raw in SEEDS[:: max(1, len(SEEDS) // 40)]]


@PROFILE
@given(
    st.one_of(st.sampled_from(SUBJECTS), st.text(max_size=120)),
    st.text(max_size=300),
    st.sampled_from(SEEDS).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])),
)
def test_normalised_mails_with_odd_fields(subject: str, text: str, html_source: bytes) -> None:
    # Parsers also get mails built from stored fields (no raw MIME): any strings at all.
    html = html_source.decode("utf-8", "replace")
    check_mail(NormalizedMail(from_address="x@example.com", subject=subject, text_body=text, html_body=html))
    check_mail(NormalizedMail(from_address="", subject=subject, text_body="", html_body=text))
