"""The parser contract.

A parser turns one vendor notification mail into a :class:`ParseResult`.

Contract (every parser module in this package keeps it):

* Input is a :class:`NormalizedMail`: plain values only (from address, subject, text body, HTML
  body, received time, attachments). Parsers never see the database, Flask or raw MIME.
* ``Parser.matches(mail)`` is the cheap test (sender, subject) the registry uses to choose a parser.
  It never raises.
* ``Parser.parse(mail)`` returns a :class:`ParseResult`, or raises :class:`ParseError` with a reason a
  person can act on when the mail matched but cannot be parsed. Nothing else ever leaves ``parse``:
  any other exception is a bug, and the registry converts it into a ``ParseError`` so that one bad
  mail never stops an import.
* Parsers are pure and deterministic: the same mail gives the same result.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["success", "warning", "failed"]
STATUSES: tuple[str, ...] = ("success", "warning", "failed")


class ParseError(Exception):
    """The mail matched a parser but could not be parsed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class NormalizedMail:
    """A mail reduced to what parsers may look at. Bodies are already decoded to ``str``."""

    from_address: str
    subject: str
    text_body: str = ""
    html_body: str = ""
    received_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    # The UTC offset the Date header was written in (the sender's wall clock). ``received_at`` is
    # UTC, so without this a time the body states without an offset could not be placed; None when
    # unknown (no Date header, "-0000", or a mail that did not come from raw MIME).
    date_offset: timedelta | None = None


@dataclass(frozen=True)
class ParsedObject:
    """One processed item of a run (VM, machine, share, task, datasource)."""

    name: str
    type: str
    status: Status
    error: str | None = None


@dataclass(frozen=True)
class ParseResult:
    parser_key: str
    backup_software: str
    backup_type: str
    job_name: str
    overall_status: Status
    informational: bool = False
    objects: tuple[ParsedObject, ...] = ()
    run_at: datetime | None = None
    # A job-level message (e.g. "Nothing to process") when the mail gives one.
    message: str | None = None

    def __post_init__(self) -> None:
        if self.overall_status not in STATUSES:
            raise ValueError(f"overall_status must be one of {STATUSES}, not {self.overall_status!r}")

    def to_dict(self) -> dict:
        """The stable JSON shape used by ``backupchecks parse --json`` and the golden files."""
        return {
            "parser": self.parser_key,
            "backup_software": self.backup_software,
            "backup_type": self.backup_type,
            "job_name": self.job_name,
            "overall_status": self.overall_status,
            "informational": self.informational,
            "objects": [asdict(o) for o in self.objects],
            "run_at": self.run_at.isoformat() if self.run_at else None,
            "message": self.message,
        }


# Every parser's rule is tried on every mail, so the same few strings are lowered and the same
# patterns looked up dozens of times per mail; caching both keeps matching cheap. The text cache is
# small on purpose: it only has to span the rules tried on one mail.
@functools.lru_cache(maxsize=8)
def _lowered(text: str) -> str:
    return text.lower()


@functools.lru_cache(maxsize=1024)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


@dataclass(frozen=True)
class MatchRule:
    """The cheap test that selects a parser. Every given condition must hold (AND);
    an empty rule matches nothing. Comparisons are case-insensitive."""

    from_contains: str | None = None
    subject_contains: str | None = None
    subject_regex: str | None = None
    body_contains: str | None = None

    def holds(self, mail: NormalizedMail) -> bool:
        """The test of :meth:`explain` without building reasons: every parser's rules are tried on
        every mail, so this is the hot path of the import."""
        if not (self.from_contains or self.subject_contains or self.subject_regex or self.body_contains):
            return False
        if self.from_contains and self.from_contains.lower() not in _lowered(mail.from_address or ""):
            return False
        if self.subject_contains and self.subject_contains.lower() not in _lowered(mail.subject or ""):
            return False
        if self.subject_regex and not _pattern(self.subject_regex).search(mail.subject or ""):
            return False
        if self.body_contains:
            needle = self.body_contains.lower()
            return needle in _lowered(mail.text_body or "") or needle in _lowered(mail.html_body or "")
        return True

    def explain(self, mail: NormalizedMail) -> str | None:
        """None when the rule holds, otherwise the first reason it does not."""
        if not (self.from_contains or self.subject_contains or self.subject_regex or self.body_contains):
            return "parser has no match rule"
        if self.from_contains and self.from_contains.lower() not in _lowered(mail.from_address or ""):
            return f"sender does not contain {self.from_contains!r}"
        if self.subject_contains and self.subject_contains.lower() not in _lowered(mail.subject or ""):
            return f"subject does not contain {self.subject_contains!r}"
        if self.subject_regex and not _pattern(self.subject_regex).search(mail.subject or ""):
            return f"subject does not match /{self.subject_regex}/"
        if self.body_contains:
            needle = self.body_contains.lower()
            if needle not in _lowered(mail.text_body or "") and needle not in _lowered(mail.html_body or ""):
                return f"body does not contain {self.body_contains!r}"
        return None

    def describe(self) -> str:
        parts = []
        if self.from_contains:
            parts.append(f"from contains “{self.from_contains}”")
        if self.subject_contains:
            parts.append(f"subject contains “{self.subject_contains}”")
        if self.subject_regex:
            parts.append(f"subject matches /{self.subject_regex}/")
        if self.body_contains:
            parts.append(f"body contains “{self.body_contains}”")
        return " and ".join(parts)


@dataclass
class Parser(ABC):
    """A registry entry. Subclasses implement :meth:`parse`; some override :meth:`why_not`
    when the rule alone is not a precise enough test."""

    key: str  # stable: stored in the database with every parsed mail
    name: str
    software: str
    backup_types: tuple[str, ...]
    rules: tuple[MatchRule, ...]  # any one rule holding selects the parser (OR)
    example: str  # one generic example subject/summary; never a customer's name
    enabled: bool = True
    informational: bool = False
    order: int = field(default=0)  # set by the registry from the list position

    def why_not(self, mail: NormalizedMail) -> str | None:
        """None when this parser should handle ``mail``, otherwise why it should not."""
        reasons = []
        for rule in self.rules:
            reason = rule.explain(mail)
            if reason is None:
                return None
            reasons.append(reason)
        return "; ".join(reasons) or "parser has no match rule"

    def matches(self, mail: NormalizedMail) -> bool:
        """A subclass that overrides ``matches`` or ``why_not`` may only narrow its rules, never widen
        them: the registry uses the rules as a prefilter.

        ``why_not(mail) is None``, computed without building reasons unless a subclass has its
        own ``why_not`` (a subclass that overrides both keeps them in agreement)."""
        if type(self).why_not is not Parser.why_not:
            return self.why_not(mail) is None
        return any(rule.holds(mail) for rule in self.rules)

    @abstractmethod
    def parse(self, mail: NormalizedMail) -> ParseResult:
        """Parse a mail this parser matched; see the module docstring for the contract."""
