from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from backend.app.cli import main

from ..mailfactory import FIXTURES


def test_parse_json_of_a_known_mail_matches_its_golden_file():
    eml = FIXTURES / "3cx" / "3cx-backup-failed.eml"
    result = CliRunner().invoke(main, ["parse", "--json", str(eml)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    golden = json.loads(eml.with_suffix(".json").read_text())
    for key in ("parser", "backup_software", "backup_type", "job_name", "overall_status", "informational"):
        assert data[key] == golden[key]
    assert data["objects"] == [{k: o[k] for k in ("name", "type", "status", "error")} for o in golden["objects"]]


def test_parse_of_an_unknown_mail_prints_null_parser_and_exits_0():
    result = CliRunner().invoke(main, ["parse", "--json", str(FIXTURES / "3cx" / "3cx-trunk-not-parsed.eml")])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"parser": None, "backup_software": None, "backup_type": None,
                                         "job_name": None, "overall_status": None, "informational": None,
                                         "objects": None}


def test_parse_human_output():
    result = CliRunner().invoke(main, ["parse", str(FIXTURES / "3cx" / "3cx-backup-failed.eml")])
    assert result.exit_code == 0 and "Parser:   3cx_backup" in result.output and "Status:   failed" in result.output


def test_parse_of_a_missing_file_or_a_non_mail_exits_2_with_one_line(tmp_path: Path):
    result = CliRunner().invoke(main, ["parse", str(tmp_path / "missing.eml")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "cannot read" in result.output
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01\x02")
    result = CliRunner().invoke(main, ["parse", str(junk)])
    assert result.exit_code == 2 and result.output == f"error: {junk}: not a mail: no header block\n"
