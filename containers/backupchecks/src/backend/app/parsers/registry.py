"""The parser registry: one explicit, ordered list.

The first enabled parser whose match rule holds handles a mail. Keys are stable: they are stored
with every parsed mail, so a key is never renamed or reused. Specific parsers stand before general
ones of the same vendor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import nakivo, qnap, synology, threecx, veeam
from .acronis import ACRONIS_PARSER
from .backuppc import BACKUPPC_LOG_PARSER, BACKUPPC_PARSER
from .bacula import BACULA_PARSER
from .base import NormalizedMail, ParseError, Parser, ParseResult
from .borg import BORG_PARSER
from .borgmatic import BORGMATIC_PARSER
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


# A rule reduced to what the hot path needs: lowered needles and the compiled subject pattern.
_CompiledRule = tuple[str | None, str | None, "re.Pattern[str] | None", str | None]


def _compile(parser: Parser) -> tuple[_CompiledRule, ...]:
    """The parser's rules for :func:`find_parser`. A rule that tests nothing never holds and is left out."""
    compiled = []
    for rule in parser.rules:
        if not (rule.from_contains or rule.subject_contains or rule.subject_regex or rule.body_contains):
            continue
        compiled.append(((rule.from_contains or "").lower() or None, (rule.subject_contains or "").lower() or None,
                         re.compile(rule.subject_regex, re.IGNORECASE) if rule.subject_regex else None,
                         (rule.body_contains or "").lower() or None))
    return tuple(compiled)


def _decides_itself(parser: Parser) -> bool:
    return type(parser).matches is not Parser.matches or type(parser).why_not is not Parser.why_not


# (parser, compiled rules, whether its own matches() must confirm). A parser's own matches or
# why_not may only narrow its rules (base.Parser says so), so its rules are a prefilter for it too.
_compiled_for: tuple[tuple[int, ...], list[tuple[Parser, tuple[_CompiledRule, ...], bool]]] = ((), [])


def _compiled() -> list[tuple[Parser, tuple[_CompiledRule, ...], bool]]:
    """The compiled registry, rebuilt whenever the list of parsers is not the one it was built from
    (tests swap in parsers of their own)."""
    global _compiled_for
    key = tuple(map(id, PARSERS))
    if _compiled_for[0] != key:
        _compiled_for = (key, [(p, _compile(p), _decides_itself(p)) for p in PARSERS])
    return _compiled_for[1]


def find_parser(mail: NormalizedMail) -> Parser | None:
    """The first enabled parser that matches ``mail``, or None.

    Every mail of an import meets every parser, so this is the hot path: the mail's fields are
    lowered once and each parser's rules are tested in their compiled form (the same test as
    ``MatchRule.holds``); a parser with its own ``matches`` is asked only when one of its rules
    holds. ``explain`` still walks the rules one by one; the registry test checks both agree on every
    fixture.
    """
    sender, subject = (mail.from_address or "").lower(), mail.subject or ""
    subject_lower = subject.lower()
    text_lower = html_lower = None
    for parser, rules, decides_itself in _compiled():
        if not parser.enabled:
            continue
        for from_needle, subject_needle, pattern, body_needle in rules:
            if from_needle and from_needle not in sender:
                continue
            if subject_needle and subject_needle not in subject_lower:
                continue
            if pattern and not pattern.search(subject):
                continue
            if body_needle:
                if text_lower is None:
                    text_lower, html_lower = (mail.text_body or "").lower(), (mail.html_body or "").lower()
                if body_needle not in text_lower and body_needle not in html_lower:
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
