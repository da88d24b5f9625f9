"""The registry: stable unique keys, order, fixtures per parser, and the outcome rules of parse_mail."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest

from backend.app.parsers import registry
from backend.app.parsers.base import MatchRule, NormalizedMail, ParseError, Parser, ParseResult
from backend.app.parsers.normalize import normalize_eml
from backend.app.parsers.registry import PARSERS, ParseOutcome, explain, find_parser, get_parser, parse_mail

from .conftest import FIXTURES, expected_for, fixture_mails

MAIL = NormalizedMail(from_address="backup@example.com", subject="[FAKE] nightly", text_body="body")


def test_keys_are_unique_and_order_follows_the_list() -> None:
    keys = [parser.key for parser in PARSERS]
    assert len(keys) == len(set(keys))
    assert [parser.order for parser in PARSERS] == list(range(1, len(PARSERS) + 1))


def test_a_duplicate_key_is_refused() -> None:
    first, second = _Fake(key="same"), _Fake(key="same")
    with pytest.raises(AssertionError, match="duplicate parser key"):
        registry._assign_order([first, second])


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.key)
def test_every_entry_is_documented(parser: Parser) -> None:
    assert parser.example.strip(), "every parser needs a generic example"
    assert parser.name.strip() and parser.software.strip() and parser.backup_types and parser.rules
    assert all(rule.describe() for rule in parser.rules)
    assert get_parser(parser.key) is parser


def _fixtures_by_parser() -> dict[str, list[dict]]:
    """Golden results of every vendor folder (both parser groups), by the parser they expect."""
    found: dict[str, list[dict]] = defaultdict(list)
    for eml in fixture_mails():
        if not eml.with_suffix(".json").exists():
            continue  # reported by test_every_fixture_has_a_golden_file
        expected = expected_for(eml)
        if expected.get("parser") and "error" not in expected:
            found[expected["parser"]].append(expected)
    return found


FIXTURES_BY_PARSER = _fixtures_by_parser()


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.key)
def test_every_parser_has_three_fixtures_one_with_object_errors(parser: Parser) -> None:
    results = FIXTURES_BY_PARSER.get(parser.key, [])
    assert len(results) >= 3, f"{parser.key} has {len(results)} fixtures"
    assert any(
        result["overall_status"] in ("warning", "failed") and any(obj["error"] for obj in result["objects"])
        for result in results
    ), f"{parser.key} has no warning/failure fixture with an object error"


def test_every_fixture_has_a_golden_file() -> None:
    missing = [str(eml) for eml in fixture_mails() if not eml.with_suffix(".json").exists()]
    assert not missing


def test_every_fixture_names_a_registered_parser() -> None:
    for eml in fixture_mails():
        if not eml.with_suffix(".json").exists():
            continue
        key = expected_for(eml).get("parser")
        assert key is None or get_parser(key) is not None, f"{eml}: unknown parser {key!r}"


def test_get_parser_of_an_unknown_key() -> None:
    assert get_parser("no_such_parser") is None


# --- outcome rules, with stand-in parsers -------------------------------------------------------


@dataclass
class _Fake(Parser):
    key: str = "fake"
    name: str = "Fake"
    software: str = "Fake"
    backup_types: tuple[str, ...] = ("Backup",)
    rules: tuple[MatchRule, ...] = (MatchRule(subject_contains="[FAKE]"),)
    example: str = "[FAKE] nightly"
    behaviour: str = "ok"

    def parse(self, mail: NormalizedMail) -> ParseResult:
        if self.behaviour == "parse-error":
            raise ParseError("no job name")
        if self.behaviour == "crash":
            raise KeyError("boom")
        if self.behaviour == "wrong-type":
            return "not a result"  # type: ignore[return-value]
        return ParseResult(self.key, "Fake", "Backup", "nightly", "success")


@dataclass
class _BadMatcher(_Fake):
    def why_not(self, mail: NormalizedMail) -> str | None:
        raise RuntimeError("matcher bug")


def _use(monkeypatch: pytest.MonkeyPatch, *parsers: Parser) -> None:
    monkeypatch.setattr(registry, "PARSERS", list(parsers))


def test_no_parser_gives_an_empty_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, _Fake(rules=(MatchRule(subject_contains="[OTHER]"),)))
    assert parse_mail(MAIL) == ParseOutcome(parser=None, result=None, error=None)
    assert find_parser(MAIL) is None


def test_the_first_enabled_match_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    disabled, first, second = _Fake(key="off", enabled=False), _Fake(key="first"), _Fake(key="second")
    _use(monkeypatch, disabled, first, second)
    outcome = parse_mail(MAIL)
    assert outcome.parser is first and outcome.error is None
    assert outcome.result is not None and outcome.result.parser_key == "first"


def test_a_parse_error_becomes_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _Fake(behaviour="parse-error")
    _use(monkeypatch, parser)
    assert parse_mail(MAIL) == ParseOutcome(parser=parser, result=None, error="no job name")


def test_any_other_exception_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _Fake(behaviour="crash")
    _use(monkeypatch, parser)
    assert parse_mail(MAIL) == ParseOutcome(parser, None, "internal parser error: KeyError: 'boom'")


def test_a_non_result_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _Fake(behaviour="wrong-type")
    _use(monkeypatch, parser)
    outcome = parse_mail(MAIL)
    assert outcome.result is None and outcome.error == "internal parser error: TypeError: parse() returned str"


def test_a_broken_matcher_does_not_stop_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    broken, good = _BadMatcher(key="broken"), _Fake(key="good")
    _use(monkeypatch, broken, good)
    assert find_parser(MAIL) is good
    assert explain(MAIL)[0] == (broken, "internal match error: RuntimeError: matcher bug")


def test_explain_lists_every_parser_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    off, hit = _Fake(key="off", enabled=False), _Fake()
    other = _Fake(key="other", rules=(MatchRule(from_contains="veeam"),))
    _use(monkeypatch, off, other, hit)
    assert explain(MAIL) == [(off, "disabled"), (other, "sender does not contain 'veeam'"), (hit, None)]


def test_explain_over_the_real_registry_names_the_chosen_parser() -> None:
    subject = "3CX Notification: Backup Failed - pbx.example.com - x"
    mail = NormalizedMail(from_address="pbx@example.com", subject=subject)
    reasons = dict((parser.key, reason) for parser, reason in explain(mail))
    assert list(reasons) == [parser.key for parser in PARSERS]
    assert reasons["3cx_backup"] is None
    assert "is not a 3CX Update event" in (reasons["3cx_update"] or "")
    assert find_parser(mail) is get_parser("3cx_backup")


# --- the contract's own guards (parsers/base.py) ----------------------------------------------------


def test_a_result_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="overall_status must be one of"):
        ParseResult("k", "S", "T", "J", "ok")  # type: ignore[arg-type]


def test_a_parser_without_rules_matches_nothing() -> None:
    assert MatchRule().explain(MAIL) == "parser has no match rule"
    assert MatchRule().holds(MAIL) is False
    assert _Fake().matches(MAIL) and not _Fake(rules=()).matches(MAIL)
    assert _Fake(rules=()).why_not(MAIL) == "parser has no match rule"
    rule = MatchRule(from_contains="example", subject_regex=r"\[FAKE\]", body_contains="nothing like this")
    assert rule.explain(MAIL) == "body does not contain 'nothing like this'"
    assert rule.describe() == (
        "from contains “example” and subject matches /\\[FAKE\\]/ and body contains “nothing like this”"
    )


def test_matches_agrees_with_why_not_on_every_fixture() -> None:
    from backend.app.parsers.normalize import normalize_eml

    for eml in fixture_mails():
        try:
            mail = normalize_eml(eml.read_bytes())
        except ValueError:
            continue
        for parser in PARSERS:
            assert parser.matches(mail) == (parser.why_not(mail) is None), (parser.key, eml.name)
            for rule in parser.rules:
                assert rule.holds(mail) == (rule.explain(mail) is None), (parser.key, eml.name, rule)


def test_a_rule_that_tests_nothing_never_selects_a_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    empty, fallback = _Fake(key="empty", rules=(MatchRule(),)), _Fake(key="fallback")
    _use(monkeypatch, empty, fallback)
    assert find_parser(MAIL) is fallback
    assert dict((p.key, reason) for p, reason in explain(MAIL))["empty"] == "parser has no match rule"


def test_find_parser_picks_what_explain_picks_on_every_fixture() -> None:
    """find_parser tests compiled rules; explain walks them one by one: they must always agree."""
    for path in sorted(FIXTURES.glob("*/*.eml")):
        mail = normalize_eml(path.read_bytes())
        first = next((parser for parser, reason in explain(mail) if reason is None), None)
        assert find_parser(mail) is first, path.name
