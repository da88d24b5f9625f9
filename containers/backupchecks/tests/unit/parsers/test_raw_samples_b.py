"""The real (partial) samples of shared/corpus/raw for the other-products parsers, read verbatim.

The golden fixtures wrap these samples into complete .eml files with generic names; this test feeds
the stored text itself through the registry, so the parsers are checked against what the products
really wrote. It runs where the checkout has the corpus beside it and is skipped elsewhere. Subjects
the samples do not carry are supplied in the product's documented default form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.app.parsers.base import NormalizedMail, ParseResult
from backend.app.parsers.registry import parse_mail

from .conftest import shared_corpus

CORPUS = shared_corpus()
pytestmark = pytest.mark.skipif(CORPUS is None, reason="shared/corpus is not beside this checkout")


def sample(name: str) -> str:
    assert CORPUS is not None
    return (CORPUS / "raw" / name).read_text(encoding="utf-8").replace("\r\n", "\n")


def parsed(subject: str, text: str = "", html: str = "", sender: str = "backup@example.com") -> ParseResult:
    outcome = parse_mail(NormalizedMail(sender, subject, text, html, None, (), timedelta(0)))
    assert outcome.error is None, outcome.error
    assert outcome.result is not None, "no parser recognised the sample"
    return outcome.result


def test_duplicati_success_report() -> None:
    text = sample("duplicati/duplicati-report-success-testing.txt")
    result = parsed(text.split("\n", 1)[0], text)
    assert (result.parser_key, result.overall_status, result.job_name) == ("duplicati", "success", "Testing")
    assert result.run_at == datetime.fromtimestamp(1550384630, tz=UTC)


def test_duplicati_fatal_report() -> None:
    text = sample("duplicati/duplicati-report-failed-missing-remote-files.txt")
    result = parsed(text.split("\n", 1)[0], text)
    assert result.overall_status == "failed"
    assert result.objects[0].error == "Found 17 files that are missing from the remote storage, please run repair"


def test_duplicati_list_operation_is_informational() -> None:
    result = parsed(
        "Duplicati List report for Testing", sample("duplicati/duplicati-issue1378-list-operation-mail-bodies.txt")
    )
    assert (result.backup_type, result.informational, result.overall_status) == ("List", True, "success")


def test_duplicati_quoted_printable_fragment_read_as_html() -> None:
    result = parsed(
        "Duplicati Backup report for Documents", html=sample("duplicati/dupreport-issue99-raw-qp-mail-fragment.txt")
    )
    assert result.overall_status == "success" and result.run_at == datetime.fromtimestamp(1536689308, tz=UTC)


def test_xen_orchestra_2017_vm_block() -> None:
    text = sample("xen-orchestra/xo-backup-report-vm-success-fragment.txt")
    result = parsed("[Xen Orchestra][Success] Backup report for nightly", text)
    assert result.overall_status == "success"
    assert [(o.name in text, o.status) for o in result.objects] == [(True, "success")]
    assert result.run_at is None  # no Global status block in the fragment: only per-VM times


def test_xen_orchestra_rolling_backup_dump() -> None:
    text = sample("xen-orchestra/xo-rollingbackup-report-mixed-fragment.txt")
    result = parsed("", text)
    assert result.parser_key == "xen_orchestra" and result.overall_status == "failed"
    assert f"tag: {result.job_name}" in text
    assert [o.status for o in result.objects] == ["failed", "failed", "success"]
    assert result.objects[0].error == "SR_BACKEND_FAILURE_44(, There is insufficient space, )"


def test_hyperv_backup_utility_zero_of_one() -> None:
    raw = sample("hyperv-backup-utility/hvbu-0of1-failed-italian-fragment.txt")
    subject = raw.split("\n", 1)[0].split(":", 1)[1].strip()
    result = parsed(subject, raw.split("while..", 1)[1])
    assert result.overall_status == "failed"
    assert result.objects[0].error is not None and result.objects[0].error.endswith("(0x80070070")


def test_hyperv_backup_utility_success_with_an_error_line() -> None:
    raw = sample("hyperv-backup-utility/hvbu-9of9-success-with-error-line-fragment.txt")
    result = parsed(raw.split("\n", 1)[0], raw)
    assert result.overall_status == "warning"
    assert result.objects[0].error == "An unexpected network error occurred."


def test_borg_yunohost_subject_with_empty_target() -> None:
    raw = sample("borg/borg-ynh-success-subject-and-size-fragment.txt")
    subject = raw.split("`")[1]
    result = parsed(subject, "size: 314902911805")
    assert result.parser_key == "borg_yunohost" and result.overall_status == "success"
    assert result.job_name in subject and " onto" not in result.job_name


def test_backuppc_server_log() -> None:
    result = parsed("(unknown subject)", sample("backuppc/backuppc-log-notification-fragment.txt"))
    assert result.parser_key == "backuppc_log" and result.informational
    assert [(o.name, o.status) for o in result.objects] == [("webserver", "success"), ("server8", "success")]


def test_proxmox_ve_subject_evidence() -> None:
    log = sample("proxmox-ve/pve-vzdump-mailrise-log-subject-evidence.txt")
    node = log.split("vzdump backup status (", 1)[1].split(")", 1)[0]
    result = parsed(f"vzdump backup status ({node}): backup successful", html="<html><body></body></html>")
    assert (result.parser_key, result.overall_status, result.job_name) == ("proxmox_ve_vzdump", "success", node)


def test_corpus_samples_of_this_group_are_all_covered() -> None:
    assert CORPUS is not None
    covered = {"duplicati", "xen-orchestra", "hyperv-backup-utility", "borg", "backuppc", "proxmox-ve"}
    folders = {p.name for p in Path(CORPUS / "raw").iterdir() if p.is_dir()}
    assert covered <= folders
