"""Shared locations for the parser tests (golden fixtures, the read-only real-sample corpus)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mails"

# The vendor folders whose fixtures test_golden_a.py owns (the other folders have their own test).
GROUP_A_VENDORS = ("veeam", "synology", "3cx", "nakivo", "qnap")


def fixture_mails(vendors: tuple[str, ...] | None = None) -> list[Path]:
    """Every ``.eml`` fixture (of ``vendors``, or of all vendor folders), sorted for stable ids."""
    folders = [FIXTURES / v for v in vendors] if vendors else [p for p in FIXTURES.iterdir() if p.is_dir()]
    return sorted(path for folder in folders for path in folder.glob("*.eml"))


def expected_for(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


def shared_corpus() -> Path | None:
    """``shared/corpus`` beside the repository when this checkout has it (developer machines)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    return None
