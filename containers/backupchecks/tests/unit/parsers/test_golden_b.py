"""Golden tests for the "other products" parsers: every fixture mail parses to the JSON beside it.

Each ``tests/fixtures/mails/<vendor>/<name>.eml`` goes through the same path as the import
(``normalize_eml`` then ``registry.parse_mail``) and must produce exactly ``<name>.json`` (the
``ParseResult.to_dict()`` shape; ``{"parser": null, …}`` for a mail no parser may claim). The
folders' SOURCES.md files say which format fact or real sample each fixture rests on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.app.parsers import registry
from backend.app.parsers.normalize import normalize_eml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mails"
VENDORS = (
    "acronis",
    "backuppc",
    "bacula",
    "borg",
    "borgmatic",
    "duplicati",
    "hyperv_backup_utility",
    "proxmox_backup_server",
    "proxmox_ve",
    "syncovery",
    "urbackup",
    "windows_server_backup",
    "xen_orchestra",
)
MAILS = sorted(path for vendor in VENDORS for path in (FIXTURES / vendor).glob("*.eml"))
UNPARSED_KEYS = (
    "parser",
    "backup_software",
    "backup_type",
    "job_name",
    "overall_status",
    "informational",
    "objects",
    "run_at",
    "message",
)


@pytest.mark.parametrize("path", MAILS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_parses_to_its_golden(path: Path) -> None:
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    outcome = registry.parse_mail(normalize_eml(path.read_bytes()))
    assert outcome.error is None, outcome.error
    if expected["parser"] is None:
        assert outcome.parser is None, f"{outcome.parser.key if outcome.parser else None} claimed a mail it must not"
        assert expected == dict.fromkeys(UNPARSED_KEYS)
        return
    assert outcome.result is not None
    assert outcome.result.to_dict() == expected


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_folder_documents_its_sources(vendor: str) -> None:
    folder = FIXTURES / vendor
    sources = (folder / "SOURCES.md").read_text(encoding="utf-8")
    for mail in folder.glob("*.eml"):
        assert mail.with_suffix(".json").exists(), f"{mail.name} has no golden"
        assert mail.name in sources, f"{mail.name} is not listed in {vendor}/SOURCES.md"


def test_fixture_set_is_not_empty() -> None:
    assert len(MAILS) >= 3 * len(VENDORS)
