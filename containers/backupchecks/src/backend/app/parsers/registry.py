"""The parser registry: one explicit, ordered list.

The first enabled parser whose match rule holds handles a mail. Keys are stable: they are stored
with every parsed mail, so a key is never renamed or reused. Specific parsers stand before general
ones of the same vendor.
"""

from __future__ import annotations

import itertools
import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from . import nakivo, qnap, synology, threecx, veeam
from .acronis import ACRONIS_PARSER
from .backuppc import BACKUPPC_LOG_PARSER, BACKUPPC_PARSER
from .bacula import BACULA_PARSER
from .base import NormalizedMail, ParseError, Parser, ParseResult
from .borg import BORG_PARSER
from .borgmatic import BORGMATIC_PARSER
from .common import required_literal
from .duplicati import DUPLICATI_PARSER
from .hyperv_backup_utility import HYPERV_BACKUP_UTILITY_PARSER
from .proxmox_backup_server import PBS_JOB_PARSER, PBS_NOTICE_PARSER
from .proxmox_ve import PVE_NOTICE_PARSER, PVE_VZDUMP_PARSER
from .syncovery import SYNCOVERY_PARSER
from .urbackup import URBACKUP_PARSER
from .windows_server_backup import WSB_SCRIPT_PARSER
from .xen_orchestra import XO_PARSER

# The order of this list is the matching order.
PARSERS: list[Parser] = [
    # --- Veeam, Synology, 3CX, NAKIVO, QNAP (parsers helper A) ---
    # Veeam: VB365 and the stand-alone agents send the same report layout as VBR, so they must be
    # recognised (by their product line) before the general VBR parser takes the mail.
    veeam.VB365_PARSER,
    veeam.AGENT_PARSER,
    veeam.VBR_PARSER,
    # Synology: the informational notices first, then the backup packages.
    synology.UPDATES_PARSER,
    synology.ACCOUNT_PROTECTION_PARSER,
    synology.ACTIVE_BACKUP_PARSER,
    synology.HYPER_BACKUP_PARSER,
    synology.SNAPSHOT_REPLICATION_PARSER,
    synology.USB_COPY_PARSER,
    # 3CX: Update and SSL Certificate notices before the backup parser (all share one prefix).
    threecx.UPDATE_PARSER,
    threecx.SSL_CERTIFICATE_PARSER,
    threecx.BACKUP_PARSER,
    nakivo.NAKIVO_PARSER,
    qnap.HBS_PARSER,
    # --- other products (parsers helper B) ---
    ACRONIS_PARSER,
    # Proxmox: PBS notices before the PVE notices, both send "New software packages available".
    PBS_JOB_PARSER,
    PBS_NOTICE_PARSER,
    PVE_VZDUMP_PARSER,
    PVE_NOTICE_PARSER,
    XO_PARSER,
    DUPLICATI_PARSER,
    SYNCOVERY_PARSER,
    URBACKUP_PARSER,
    BACULA_PARSER,
    BORGMATIC_PARSER,
    BORG_PARSER,
    # BackupPC: a mailed server LOG may carry any subject, even one the notice parser claims.
    BACKUPPC_LOG_PARSER,
    BACKUPPC_PARSER,
    HYPERV_BACKUP_UTILITY_PARSER,
    # A generic subject pattern ("<host> - Backup Success"): last, after every product's own parser.
    WSB_SCRIPT_PARSER,
]


def _assign_order(parsers: list[Parser]) -> None:
    keys: set[str] = set()
    for position, parser in enumerate(parsers, start=1):
        if parser.key in keys:
            # Keys identify stored results; two parsers with one key would corrupt history.
            raise AssertionError(f"duplicate parser key in registry: {parser.key!r}")
        keys.add(parser.key)
        parser.order = position


_assign_order(PARSERS)
_BY_KEY: dict[str, Parser] = {parser.key: parser for parser in PARSERS}


@dataclass(frozen=True)
class ParseOutcome:
    """What the import does with a mail: parsed (``result``), failed (``error``), or unrecognised
    (all three None)."""

    parser: Parser | None
    result: ParseResult | None
    error: str | None


def get_parser(key: str) -> Parser | None:
    return _BY_KEY.get(key)


def _why_not(parser: Parser, mail: NormalizedMail) -> str | None:
    if not parser.enabled:
        return "disabled"
    try:
        return parser.why_not(mail)
    except Exception as exc:  # noqa: BLE001 - a matcher bug must not stop the import either
        return f"internal match error: {type(exc).__name__}: {exc}"


def _matches(parser: Parser, mail: NormalizedMail) -> bool:
    try:
        return parser.enabled and parser.matches(mail)
    except Exception:  # noqa: BLE001 - a matcher bug must not stop the import; explain() shows it
        return False


class _NeedleGroup:
    """Body needles that start alike: the six Veeam product names all start with "veeam ".

    The first parsers' body rules meet every mail and bodies run to many kilobytes, so looking for
    needles one by one is most of the cost of matching. A body without the group's common prefix
    (its gate) holds none of them: one scan rules the whole group out. From where the gate stands,
    the needles are looked for in one pass (a regex whose alternatives share the gate as a literal
    prefix, so ``re`` skips ahead to it), read only as far as the needles asked for require, when
    that pass finds every occurrence (below); else each needle asked for is looked for on its own."""

    def __init__(self, needles: list[str]) -> None:
        self.gate = os.path.commonprefix(needles)
        # The needles that also occur wherever a needle occurs: itself and its prefixes in the group.
        self.with_prefixes = {needle: frozenset(n for n in needles if needle.startswith(n)) for needle in needles}
        self.pattern: re.Pattern[str] | None = None
        # One pass finds every occurrence when no occurrence can start inside another, that is when
        # the gate cannot start anywhere but at the beginning of a needle. At one place the longest
        # needle is reported, and the needles that are its prefixes occur there as well.
        if not any(_gate_overlaps(needle[at:], self.gate) for needle in needles for at in range(1, len(needle))):
            alternatives = sorted(needles, key=len, reverse=True)
            self.pattern = re.compile("|".join(map(re.escape, alternatives)))


class _GroupSearch:
    """One mail's search for the needles of a group in its (lower-cased) bodies, once the gate has
    been found in them (:meth:`start`)."""

    __slots__ = ("_found", "_group", "_not_found", "_occurrences", "_texts")

    def __init__(self, group: _NeedleGroup, starts: list[tuple[str, int]]) -> None:
        self._group = group
        self._texts = [text for text, _at in starts]
        self._found: set[str] = set()
        self._not_found: set[str] = set()
        # Occurrences not read yet, from where the gate first stands in each body; None when one
        # pass cannot tell the needles apart.
        self._occurrences: Iterator[re.Match[str]] | None = None
        if group.pattern is not None:
            pattern = group.pattern
            self._occurrences = itertools.chain.from_iterable(pattern.finditer(text, at) for text, at in starts)

    @classmethod
    def start(cls, group: _NeedleGroup, texts: tuple[str, ...]) -> _GroupSearch | None:
        """The search, or None when no body holds the gate (then none holds a needle of the group)."""
        starts = [(text, at) for text in texts if (at := text.find(group.gate)) >= 0]
        return cls(group, starts) if starts else None

    def has(self, needle: str) -> bool:
        if needle in self._found:
            return True
        if needle in self._not_found:
            return False
        if self._occurrences is None:
            # No single pass tells the needles apart: this one is looked for on its own.
            found = any([needle in text for text in self._texts])
            (self._found if found else self._not_found).add(needle)
            return found
        # Read occurrences only as far as needed: a mail of the group's first parser names its
        # needle early, and the other needles are known once the pass is through.
        with_prefixes = self._group.with_prefixes
        for match in self._occurrences:
            self._found |= with_prefixes[match.group()]
            if needle in self._found:
                return True
        self._not_found.update(n for n in with_prefixes if n not in self._found)
        return False


def _gate_overlaps(tail: str, gate: str) -> bool:
    """Whether ``gate`` could start where ``tail`` (the end of a needle) starts."""
    return tail.startswith(gate) or gate.startswith(tail)


# A rule reduced to what the hot path needs: lowered needles, the compiled subject pattern with the
# plain text all its matches hold (common.required_literal), and the group of the body needle (see
# _NeedleGroup).
_CompiledRule = tuple[str | None, str | None, "re.Pattern[str] | None", str, str | None, "_NeedleGroup | None"]

# Body needles whose first this many characters agree form a group.
_GROUP_PREFIX = 6


def _compile(parser: Parser) -> tuple[_CompiledRule, ...]:
    """The parser's rules for :func:`find_parser`, not yet grouped. A rule that tests nothing never
    holds and is left out."""
    compiled = []
    for rule in parser.rules:
        if not (rule.from_contains or rule.subject_contains or rule.subject_regex or rule.body_contains):
            continue
        compiled.append(((rule.from_contains or "").lower() or None, (rule.subject_contains or "").lower() or None,
                         re.compile(rule.subject_regex, re.IGNORECASE) if rule.subject_regex else None,
                         required_literal(rule.subject_regex) if rule.subject_regex else "",
                         (rule.body_contains or "").lower() or None, None))
    return tuple(compiled)


def _group_body_needles(entries: list[_Entry]) -> list[_Entry]:
    """``entries`` with every body needle that starts like other needles put in their group."""
    needles = sorted({rule[4] for _parser, rules, _own in entries for rule in rules if rule[4]})
    by_prefix: dict[str, list[str]] = {}
    for needle in needles:
        if len(needle) >= _GROUP_PREFIX:
            by_prefix.setdefault(needle[:_GROUP_PREFIX], []).append(needle)
    groups = {}
    for members in by_prefix.values():
        if len(members) > 1:
            group = _NeedleGroup(members)
            groups.update(dict.fromkeys(members, group))
    return [(parser, tuple(rule[:5] + (groups.get(rule[4]),) for rule in rules), own) for parser, rules, own in entries]


def _decides_itself(parser: Parser) -> bool:
    return type(parser).matches is not Parser.matches or type(parser).why_not is not Parser.why_not


# (parser, compiled rules, whether its own matches() must confirm). A parser's own matches or
# why_not may only narrow its rules (base.Parser says so), so its rules are a prefilter for it too.
_Entry = tuple[Parser, tuple[_CompiledRule, ...], bool]
_compiled_for: tuple[list[Parser], list[_Entry]] = ([], [])


def _compiled() -> list[_Entry]:
    """The compiled registry, rebuilt whenever the list of parsers is not the one it was built from
    (tests swap in parsers of their own)."""
    global _compiled_for
    built_from = _compiled_for[0]
    if len(built_from) != len(PARSERS) or not all(map(operator.is_, built_from, PARSERS)):
        _compiled_for = (list(PARSERS), _group_body_needles([(p, _compile(p), _decides_itself(p)) for p in PARSERS]))
    return _compiled_for[1]


def find_parser(mail: NormalizedMail) -> Parser | None:
    """The first enabled parser that matches ``mail``, or None.

    Every mail of an import meets every parser, so this is the hot path: the mail's fields are
    lowered once and each parser's rules are tested in their compiled form (the same test as
    ``MatchRule.holds``), body needles that start alike all in one go; a parser with its own
    ``matches`` is asked only when one of its rules holds. ``explain`` still walks the rules one by
    one; the registry test checks both agree on every fixture.
    """
    sender, subject = (mail.from_address or "").lower(), mail.subject or ""
    subject_lower = subject.lower()
    # A case-insensitive pattern can only match an ASCII subject that holds the plain text all its
    # matches hold; beyond ASCII, case rules are wider than lower().
    ascii_subject = subject_lower if subject.isascii() else None
    texts: tuple[str, ...] = ()
    group_searches: dict[_NeedleGroup, _GroupSearch | None] = {}
    for parser, rules, decides_itself in _compiled():
        if not parser.enabled:
            continue
        for from_needle, subject_needle, pattern, literal, body_needle, group in rules:
            if from_needle and from_needle not in sender:
                continue
            if subject_needle and subject_needle not in subject_lower:
                continue
            if pattern:
                if ascii_subject is not None and literal not in ascii_subject:
                    continue
                if not pattern.search(subject):
                    continue
            if body_needle:
                if not texts:
                    texts = ((mail.text_body or "").lower(), (mail.html_body or "").lower())
                if group is not None:
                    if group in group_searches:
                        search = group_searches[group]
                    else:
                        search = group_searches[group] = _GroupSearch.start(group, texts)
                    if search is None or not search.has(body_needle):
                        continue
                elif body_needle not in texts[0] and body_needle not in texts[1]:
                    continue
            if not decides_itself or _matches(parser, mail):
                return parser
            break
    return None


def parse_mail(mail: NormalizedMail) -> ParseOutcome:
    """Choose a parser and run it. Never raises: a ParseError or any other exception from the
    parser becomes ``error`` so that one bad mail never stops an import."""
    parser = find_parser(mail)
    if parser is None:
        return ParseOutcome(parser=None, result=None, error=None)
    try:
        result = parser.parse(mail)
    except ParseError as exc:
        return ParseOutcome(parser=parser, result=None, error=exc.reason)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return ParseOutcome(parser=parser, result=None, error=f"internal parser error: {type(exc).__name__}: {exc}")
    if not isinstance(result, ParseResult):
        return ParseOutcome(
            parser=parser,
            result=None,
            error=f"internal parser error: TypeError: parse() returned {type(result).__name__}",
        )
    return ParseOutcome(parser=parser, result=result, error=None)


def explain(mail: NormalizedMail) -> list[tuple[Parser, str | None]]:
    """For every parser in order: None when it would match ``mail``, else the reason it does not."""
    return [(parser, _why_not(parser, mail)) for parser in PARSERS]
