"""The shortcuts taken for speed give exactly what the plain way gives.

Matching and parsing take shortcuts where the plain way costs (bench/parse.py measures it): needle
groups and regex literals in the registry, line-anchored searches found through a literal, cells
tidied only when read, a stylesheet instead of a Python walk. Each is checked here against the plain
way it replaces, including the cases the fixtures do not reach.
"""

from __future__ import annotations

import random
import re
import warnings
from dataclasses import dataclass

import pytest

from backend.app.parsers import registry
from backend.app.parsers.base import MatchRule, NormalizedMail, Parser, ParseResult
from backend.app.parsers.common import cell_text, cell_words, clean, html_rows, raw_rows, required_literal
from backend.app.parsers.common_b import element_text, search_line
from backend.app.parsers.normalize import parse_html
from backend.app.parsers.registry import explain, find_parser
from backend.app.parsers.veeam import _strip_name

# --- required_literal -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"Backup (?:succeeded|failed)", "backup "),
        (r"\[Xen Orchestra[^\]]*\].*Backup report for", "backup report for"),
        (r"Backup Reports? for", "backup report"),  # the "s" may be absent: the longer of the two runs
        (r"\d+\s*/\s*\d+ VMs Successful\s*$", " vms successful"),
        (r"^(?:the\s+)?(?P<copy>.+?) on (?P<host>[\w.-]+) has been completed", " has been completed"),
        (r"ab{2,3}cd", "cd"),  # a count is no text, and the character before it may repeat
        (r"a{b", "a{b"),  # not a count: re reads it as text
        (r"ab+c", "ab"),
        (r"ab\d", "ab"),  # a class ends a run
        (r"a\|b", "a|b"),  # an escaped bar is text
        (r"x[\]]yz", "yz"),
        (r"[\\\]]yz", "yz"),  # an escaped backslash, then an escaped "]": the set ends after them
        (r"a[bc", ""),  # no end to the set: not a pattern, no shortcut
        (r"erfolgreich|WARNUNGEN", ""),  # an alternative at the top level: nothing every match holds
        (r"x[a^]|y", ""),  # the bar after a set is still at the top level
        (r"x[]|]z", "x"),  # "]" first in a set is a member, so this bar is inside it
        (r"x[^]|]z", "x"),
        (r"(a|b)cde", "cde"),
        (r"(?x) a b", ""),  # flags that change what the characters mean: no shortcut
        (r"\d+ ", " "),
    ],
)
def test_required_literal(pattern: str, literal: str) -> None:
    assert required_literal(pattern) == literal


def test_a_match_always_holds_the_required_literal() -> None:
    """What the registry and the Synology tables rely on: on ASCII text, no match without it."""
    rng = random.Random(7)
    atoms = ["a", "b", "A", "|", "(", ")", "[", "]", "^", "?", "*", "+", r"\[", r"\]", r"\|", ".", " ", "{1}", "{0,2}",
             "{", "}", r"\d", "-", "(?:", "\\\\", "$", "+?"]
    tried = 0
    for _ in range(6000):
        pattern = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 9)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "possible nested set" and the like
                compiled = re.compile(pattern, re.IGNORECASE)
        except re.error:
            continue
        literal = required_literal(pattern)
        for _ in range(5):
            text = "".join(rng.choice("aAbB []|^-1.{}\\") for _ in range(rng.randint(0, 12)))
            if compiled.search(text):
                tried += 1
                assert literal in text.lower(), (pattern, text)
    assert tried > 1000


# --- search_line ----------------------------------------------------------------------------------

_FAILED = re.compile(r"^[ \t]*Failed:[ \t]*(?P<msg>\S.*)$", re.M)
_HEADER = re.compile(r"^VMID\s{2,}Name$", re.M)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Failed: x",
        "  \tFailed: disk full\nmore",
        "note: Failed: not at the start\n Failed: at the start",
        "a Failed: b Failed: c",  # only occurrences after text, on the last line
        "Failed:\nFailed: second line",  # the first has no message
        "x\r Failed: y\n\tFailed: z",
        "VMID  Name\nVMID Name",
        " VMID  Name",  # blanks before a "^VMID" pattern: the pattern refuses it
    ],
)
def test_search_line_finds_what_search_finds(text: str) -> None:
    for pattern, literal in ((_FAILED, "Failed:"), (_HEADER, "VMID")):
        found, expected = search_line(pattern, text, literal), pattern.search(text)
        assert (found and (found.span(), found.groups())) == (expected and (expected.span(), expected.groups()))


# --- registry: needle groups and regex literals ---------------------------------------------------


@dataclass
class _Body(Parser):
    key: str = "body"
    name: str = "Body"
    software: str = "Test"
    backup_types: tuple[str, ...] = ("Backup",)
    rules: tuple[MatchRule, ...] = ()
    example: str = "x"

    def parse(self, mail: NormalizedMail) -> ParseResult:
        return ParseResult(self.key, "Test", "Backup", "job", "success")


def _registry(monkeypatch: pytest.MonkeyPatch, *needle_sets: tuple[str, ...]) -> list[Parser]:
    parsers: list[Parser] = [
        _Body(key=f"p{index}", rules=tuple(MatchRule(body_contains=needle) for needle in needles))
        for index, needles in enumerate(needle_sets)
    ]
    monkeypatch.setattr(registry, "PARSERS", parsers)
    return parsers


def _first_by_explain(mail: NormalizedMail) -> Parser | None:
    return next((parser for parser, reason in explain(mail) if reason is None), None)


BODIES = [
    "",
    "nothing here",
    "the product line: Product Agent for Linux, version 6",
    "product backup & replication ... product backup and more",
    "PRODUCT BACKUP FOR CLOUD 365 and later product agent",
    "product agent for linux\nproduct backup for cloud",
    "xx product backup for cloud 365 product backup for cloud",
    "abcdefabcdefabcdefx",
    "abcdefabcdefabcdef",
    "abcdefxyz abcdefabcdef",
]


@pytest.mark.parametrize("body", BODIES)
def test_a_group_of_needles_matches_like_the_rules(monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    # "product backup for cloud" is a prefix of "... 365": both are found where the longer one is.
    _registry(
        monkeypatch,
        ("Product Backup for Cloud 365",),
        ("product agent for windows", "product agent for linux"),
        ("product backup for cloud",),
        ("product backup & replication",),
    )
    for mail in (NormalizedMail("a@example.com", "s", body), NormalizedMail("a@example.com", "s", "", body)):
        assert find_parser(mail) is _first_by_explain(mail)


@pytest.mark.parametrize("body", BODIES)
def test_a_group_whose_needles_overlap_is_searched_needle_by_needle(monkeypatch: pytest.MonkeyPatch,
                                                                    body: str) -> None:
    # The gate "abcdef" also starts inside the first needle: one pass could miss an occurrence
    # that starts inside another, so none is made.
    parsers = _registry(monkeypatch, ("abcdefabcdefx",), ("abcdefabcdef",), ("abcdefxyz",))
    group = registry._compiled()[0][1][0][5]
    assert group is not None and group.pattern is None
    mail = NormalizedMail("a@example.com", "s", body)
    assert find_parser(mail) is _first_by_explain(mail)
    if body == "abcdefabcdefabcdef":
        assert find_parser(mail) is parsers[1]


def test_a_subject_regex_is_skipped_when_the_subject_lacks_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _Body(key="re", rules=(MatchRule(subject_regex=r"Backup (?:succeeded|failed)"),))
    monkeypatch.setattr(registry, "PARSERS", [parser])
    for subject, hit in (
        ("BACKUP FAILED on srv", True),
        ("Backup done", False),
        # Not ASCII: the regex decides, and to it the Kelvin sign is a "k" ("backup" is not in the
        # lower-cased subject, so the literal test would have said no).
        ("Bac\u212aup failed", True),
        ("ſ Backup succeeded", True),
    ):
        mail = NormalizedMail("a@example.com", subject)
        assert (find_parser(mail) is parser) is hit
        assert find_parser(mail) is _first_by_explain(mail)


# --- table cells read one by one ------------------------------------------------------------------

TABLES = [
    "<table><tr><td> a  b </td><td>x<br>y</td><td><div>one</div><div> two </div></td></tr></table>",
    "<table><tr><td>\n  spaced\n\n out \n</td><td>\u00a0</td><td></td></tr><tr><th>h</th></tr></table>",
    "<table><tr><td><p>x</p>\n<p>y</p></td><td>a\r\nb</td></tr></table><table><tr></tr></table>",
]


@pytest.mark.parametrize("markup", TABLES)
def test_raw_cells_tidied_one_by_one_are_the_html_rows(markup: str) -> None:
    root = parse_html(markup, lean=True)
    assert root is not None
    rows, tidied = raw_rows(root), html_rows(root)
    assert [[cell_text(cell) for cell in row] for row in rows] == tidied
    assert [[cell_words(cell) for cell in row] for row in rows] == [[clean(cell) for cell in row] for row in tidied]


# --- common_b.element_text: stylesheet for whole documents, walk for the rest ------------------


@pytest.mark.parametrize(
    "markup",
    [
        "<h1>T</h1><ul><li>one<li>two</ul><br>x<br/>y<hr>z",
        "<div>a<style>x</style>tail<script>y</script></div><table><tr><td>a<td>b</tr></table>",
        "<p>a<!-- c -->b<?pi x?>c</p><h4>four</h4><h5>five</h5><p>x\u00a0 \t</p>\n\n\n<p>y</p>",
    ],
)
def test_element_text_of_a_document_is_the_walk_of_its_body(markup: str) -> None:
    for lean in (True, False):
        root = parse_html(markup, lean=lean)
        assert root is not None
        body = root.find("body")
        assert body is not None
        for markdown in (False, True):
            # The root goes through the stylesheet; the body (not a document root) is walked.
            assert element_text(root, markdown=markdown) == element_text(body, markdown=markdown)


def test_element_text_leaves_out_what_follows_the_document() -> None:
    # libxml2 puts text after </html> in a second top-level element; the root is the first.
    root = parse_html("<html><body>inside</body></html>after", lean=True)
    assert root is not None
    assert element_text(root) == "inside"


# --- Veeam job names ------------------------------------------------------------------------------


def test_veeam_job_name_suffixes() -> None:
    assert _strip_name("Backup Job SRV01 (Retry 2)") == "Backup Job SRV01"
    assert _strip_name("Backup Job SRV01 (Full) (Retry 1)") == "Backup Job SRV01"
    assert _strip_name("Backup (Daily)") == "Backup (Daily)"
    assert _strip_name("Job Created by EXAMPLE\\svc at 1/2/2024") == "Job"


# --- Duplicati: only the keys it reads are matched --------------------------------------------------


def test_duplicati_key_lines_are_the_general_ones_it_reads() -> None:
    from backend.app.parsers.duplicati import _KEY, _READ_KEYS

    general = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[A-Za-z]+):[ \t]*(?P<value>.*)$", re.M)
    text = (
        "MainOperation: Backup\nParsedResult: Warning\n  ParsedResult: Success\nXParsedResult: no\n"
        "FilesX: 1\nFiles: 2\nListFilesets: []\nBeginTime: 2/16/2019 (1550384630)\nBeginTime2: x\n"
        "Warnings: [\n  x\n]\nErrors: []\n\tMainOperation:Delete\nExaminedFiles: 3\nnot a key line\n"
    )
    wanted = [(m.span(), m.groups()) for m in general.finditer(text) if m["key"] in _READ_KEYS]
    assert [(m.span(), m.groups()) for m in _KEY.finditer(text)] == wanted
