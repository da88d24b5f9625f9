"""BorgBackup run by the YunoHost ``borg_ynh`` app.

Format facts: shared/corpus/raw/borg (a real subject) and the app's ``conf/backup-with-borg`` script
(YunoHost-Apps/borg_ynh): ``[borg] Backup succeed(ed)|failed from <host> onto <repository>`` and,
on failure, one line per part that could not be backed up. Borg itself sends no mail.

Older app versions wrote "succeed" and could leave the repository empty (``… onto``); the job is
then the host alone.
"""

from __future__ import annotations

import re

from .base import MatchRule, NormalizedMail, ParsedObject, ParseError, Parser, ParseResult
from .common_b import mail_text

SOFTWARE = "Borg"

_SUBJECT = re.compile(
    r"\[borg\]\s*Backup\s+(?P<result>succeeded|succeed|success(?:ful)?|failed)\s+from\s+(?P<host>\S+)"
    r"(?:\s+onto(?:\s+(?P<repo>.*?))?)?\s*$",
    re.I,
)
_FAILED_PART = re.compile(
    r"^The backup miserably failed to backup (?:(?P<system>system configurations|system data)|"
    r"(?P<app>\S+) application)\.\s*$",
    re.M,
)
_NO_SCRIPT = re.compile(r"^Warning: The application (?P<app>\S+) has no backup script\..*$", re.M)
# The info log lists each archive created: auto_conf, auto_data, auto_<app>.
_CREATED = re.compile(r"^Backup created: auto_(?P<part>\S+)[ \t]*$", re.M)
_SYSTEM_PARTS = {"conf": "system configurations", "data": "system data"}
# One repetition per line, each ending in its newline: no ambiguous splits to backtrack over.
_PARTIAL = re.compile(r"^Some backup partially failed:[ \t]*\n(?P<lines>(?:[^\n]+\n)*)", re.M)


class BorgYunohostParser(Parser):
    def parse(self, mail: NormalizedMail) -> ParseResult:
        subject = _SUBJECT.search(" ".join((mail.subject or "").split()))
        if not subject:
            raise ParseError("subject is not '[borg] Backup succeeded|failed from <host> onto <repository>'")
        host, repo = subject["host"], (subject["repo"] or "").strip()
        failed = subject["result"].lower() == "failed"
        text = mail_text(mail)

        # (position in the mail, object): objects are listed in the order the mail names them.
        found: list[tuple[int, ParsedObject]] = []
        for match in _FAILED_PART.finditer(text):
            name = match["system"] or match["app"]
            found.append(
                (
                    match.start(),
                    ParsedObject(
                        name=name,
                        type="System" if match["system"] else "App",
                        status="failed",
                        error=match.group(0).strip(),
                    ),
                )
            )
        for match in _NO_SCRIPT.finditer(text):
            found.append(
                (
                    match.start(),
                    ParsedObject(name=match["app"], type="App", status="warning", error=match.group(0).strip()),
                )
            )
        named = {obj.name for _, obj in found}
        for match in _CREATED.finditer(text):
            part = match["part"]
            name = _SYSTEM_PARTS.get(part, part)
            if name not in named:
                named.add(name)
                found.append(
                    (
                        match.start(),
                        ParsedObject(name=name, type="System" if part in _SYSTEM_PARTS else "App", status="success"),
                    )
                )
        objects = [obj for _, obj in sorted(found, key=lambda item: item[0])]

        message = None
        partial = _PARTIAL.search(text)
        if failed and partial:
            message = "\n".join(
                line.strip() for line in partial["lines"].split("\n") if line.strip() and not line.startswith("*")
            )
        return ParseResult(
            parser_key=self.key,
            backup_software=SOFTWARE,
            backup_type="YunoHost Backup",
            job_name=f"{host} onto {repo}" if repo else host,
            overall_status="failed" if failed else "success",
            objects=tuple(objects),
            message=message or None,
        )


BORG_PARSER = BorgYunohostParser(
    key="borg_yunohost",
    name="Borg (YunoHost borg_ynh app)",
    software=SOFTWARE,
    backup_types=("YunoHost Backup",),
    rules=(MatchRule(subject_regex=r"\[borg\]\s*Backup\s"),),
    example="[borg] Backup succeeded from yunohost.example.com onto backup.example.com:/srv/borg",
)
