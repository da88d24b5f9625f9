"""borgmatic notifications sent by e-mail through its Apprise hook.

Format facts: shared/corpus/formats/borgmatic.md (borgmatic ``hooks/monitoring/apprise.py``).

borgmatic has no mailer of its own. With the Apprise hook and no custom title, subject and body
are ``A borgmatic <STATE> event happened``; ``send_logs`` appends the last log lines, where each
repository's actions are prefixed with its label. START and LOG events are informational. No host
or job name is sent, so the job is "borgmatic" (the sender address tells installations apart) and
the repositories seen in the logs are the objects.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult, Status
from .common_b import mail_text

SOFTWARE = "borgmatic"

_EVENT = re.compile(r"A borgmatic (?P<state>START|FINISH|FAIL|LOG) event happened", re.I)
# Custom titles: the state by keyword, failure words first ("finished with errors" is a failure).
_KEYWORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bfail|\berror", re.I), "FAIL"),
    (re.compile(r"\bstart", re.I), "START"),
    (re.compile(r"\bfinish|\bsuccess|\bsucceeded|\bcomplete|\bdone\b", re.I), "FINISH"),
    (re.compile(r"\blogs?\b", re.I), "LOG"),
)
_REPO_LINE = re.compile(
    r"^(?P<repo>[^\s/][^:\n]*?): (?P<action>Creating archive|Pruning archives|Compacting segments|"
    r"Running consistency checks|Error running actions for repository)\b",
    re.M,
)
_LABELLED = re.compile(r"^[^\s:][^:\n]*: ")
_STATUS: dict[str, Status] = {"FINISH": "success", "FAIL": "failed", "START": "success", "LOG": "success"}


def _state(subject: str, text: str) -> str | None:
    for source in (subject, text):
        event = _EVENT.search(source)
        if event:
            return event["state"].upper()
    if "borgmatic" not in (subject + text).lower():
        return None
    for pattern, state in _KEYWORDS:
        if pattern.search(subject):
            return state
    return None


class BorgmaticParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = " ".join((mail.subject or "").split())
        text = mail_text(mail)
        state = _state(subject, text)
        if state is None:
            raise ParseError("no 'A borgmatic <STATE> event happened' and no state word in the subject")

        lines = text.split("\n")
        repos: dict[str, ParsedObject] = {}
        for index, line in enumerate(lines):
            match = _REPO_LINE.match(line)
            if not match:
                continue
            repo = match["repo"].strip()
            if match["action"].startswith("Error"):
                cause = next((n.strip() for n in lines[index + 1 :] if n.strip()), "")
                error = cause if cause and not _LABELLED.match(cause) else None
                repos[repo] = ParsedObject(name=repo, type="Repository", status="failed", error=error)
            elif repo not in repos:
                repos[repo] = ParsedObject(name=repo, type="Repository", status="success")

        status = _STATUS[state]
        if state == "FAIL" and repos and not any(o.status == "failed" for o in repos.values()):
            # The failure happened outside a repository (hooks, configuration): the repositories
            # reached are not known to have succeeded.
            repos = {}
        message = None
        if state == "FAIL" and not repos:
            message = next((line.strip() for line in reversed(lines) if line.strip() and not _EVENT.search(line)), None)
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            # START/LOG events get their own type so they never show up as runs of the backup.
            backup_type="Backup" if state in ("FINISH", "FAIL") else f"{state.title()} event",
            job_name="borgmatic",
            overall_status=status,
            informational=state in ("START", "LOG"),
            objects=tuple(repos.values()),
            message=message,
        )


BORGMATIC_PARSER = BorgmaticParser(
    key="borgmatic",
    name="borgmatic (Apprise e-mail)",
    software=SOFTWARE,
    backup_types=("Backup", "Start event", "Log event"),
    rules=(
        MatchRule(subject_contains="borgmatic"),
        MatchRule(body_contains="borgmatic event happened"),
    ),
    example="A borgmatic FAIL event happened",
)
