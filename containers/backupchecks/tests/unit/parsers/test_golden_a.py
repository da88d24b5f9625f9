"""Golden files for the Veeam, Synology, 3CX, NAKIVO and QNAP parsers.

Each ``tests/fixtures/mails/<vendor>/<name>.eml`` goes through the import's own path
(``normalize_eml`` then ``parse_mail``) and must give exactly ``<name>.json``:
``ParseResult.to_dict()``, ``{"parser": null, ...}`` for a mail no parser may take, or
``{"parser": key, "error": text}`` for a mail its parser must refuse with a reason containing text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.app.parsers import veeam
from backend.app.parsers.base import NormalizedMail
from backend.app.parsers.normalize import normalize_eml
from backend.app.parsers.registry import parse_mail

from .conftest import GROUP_A_VENDORS, expected_for, fixture_mails, shared_corpus

CASES = fixture_mails(GROUP_A_VENDORS)


def test_every_vendor_folder_has_fixtures() -> None:
    folders = {path.parent.name for path in CASES}
    assert folders == set(GROUP_A_VENDORS)


@pytest.mark.parametrize("eml", CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_fixture_parses_to_its_golden_result(eml: Path) -> None:
    expected = expected_for(eml)
    outcome = parse_mail(normalize_eml(eml.read_bytes()))
    if "error" in expected:
        assert outcome.parser is not None and outcome.parser.key == expected["parser"]
        assert outcome.result is None
        assert expected["error"] in (outcome.error or "")
    elif expected["parser"] is None:
        assert outcome.parser is None, f"{outcome.parser.key} took a mail no parser may take"
        assert outcome.error is None
    else:
        assert outcome.error is None, outcome.error
        assert outcome.result is not None and outcome.parser is not None
        assert outcome.result.parser_key == outcome.parser.key
        assert outcome.result.to_dict() == expected


@pytest.mark.parametrize("eml", CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_fixture_is_a_complete_mail(eml: Path) -> None:
    raw = eml.read_bytes()
    header_block = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0].decode("ascii")
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert re.search(rf"^{name}: ", header_block, re.MULTILINE), f"{eml.name} lacks {name}"
    assert eml.with_suffix(".json").exists()


def test_the_real_veeam_fragment_parses_as_it_was_published() -> None:
    """corpus/raw sample #5, verbatim (the fixture vbr-raw-fragment-retry2 is the same text with
    generic names). Skipped where the shared corpus is not checked out."""
    corpus = shared_corpus()
    sample = corpus / "raw" / "veeam" / "vbr-backup-job-error-retry2-fragment.txt" if corpus else None
    if sample is None or not sample.exists():
        pytest.skip("shared/corpus is not available in this checkout")
    text = sample.read_text(encoding="utf-8")
    job = re.search(r"job: (.+?) \(Retry 2\)", text).group(1)  # type: ignore[union-attr]
    # The fragment has no subject; the default Veeam subject is what such a mail carries.
    mail = NormalizedMail(from_address="veeam@example.com", subject=f"[Failed] {job} (1 VMs) 1 issue", text_body=text)
    outcome = parse_mail(mail)
    assert outcome.parser is veeam.VBR_PARSER and outcome.result is not None
    result = outcome.result
    assert (result.job_name, result.overall_status, result.objects) == (job, "failed", ())
    assert result.message is not None and result.message.endswith(
        "Nothing to process. All machines were excluded from task list"
    )
    assert result.run_at is None  # "Created by ... at <date>" is when the job was made, not run


# --- edge cases the fixtures do not show -----------------------------------------------------------

from backend.app.parsers import nakivo, qnap, synology, threecx  # noqa: E402
from backend.app.parsers.base import ParseError  # noqa: E402


def _mail(subject: str, text: str = "", html: str = "", sender: str = "backup@example.com") -> NormalizedMail:
    return NormalizedMail(from_address=sender, subject=subject, text_body=text, html_body=html)


def test_veeam_report_as_plain_text_with_a_tab_separated_table() -> None:
    text = ("Backup job: Job T (Incremental)\nCreated by EXAMPLE\\admin at 1/1/2020 10:00.\nWarning\n"
            "2 of 2 VMs processed\n\nDetails\nName\tStatus\tStart time\tDetails\nVM1\tSuccess\t22:00\n"
            "VM2\tPending\t22:01\tWaiting for resources\n\nVeeam Backup & Replication 12.1\n")
    result = veeam.VBR_PARSER.parse(_mail("[Warning] Job T (2 VMs) 1 issue", text))
    assert (result.job_name, result.overall_status) == ("Job T", "warning")
    assert [(o.name, o.type, o.status, o.error) for o in result.objects] == [
        ("VM1", "VM", "success", None), ("VM2", "VM", "failed", "Waiting for resources")]


def test_veeam_text_message_stops_at_the_footer() -> None:
    text = ("Backup job: Job U\nFailed\nDetails :\nUnable to connect to repository\n"
            "Veeam Backup & Replication 12\ntrailer")
    result = veeam.VBR_PARSER.parse(_mail("[Failed] Job U (1 VMs)", text))
    assert (result.overall_status, result.message) == ("failed", "Unable to connect to repository")


def test_veeam_unfinished_session_is_not_a_success() -> None:
    html = ("<table><tr><td>Backup job: Job V<div>desc</div></td><td>In progress<div>1 of 2 VMs processed</div>"
            "</td></tr></table>")
    assert veeam.VBR_PARSER.parse(_mail("Job V", html=html)).overall_status == "failed"


def test_veeam_without_a_result_word_takes_the_worst_object() -> None:
    text = "Backup job: Job W\nName\tStatus\nVM1\tPending\nVM2\tIdle\n"
    assert veeam.VBR_PARSER.parse(_mail("Job W", text)).overall_status == "failed"


@pytest.mark.parametrize(
    ("parser", "subject", "text", "reason"),
    [
        (veeam.VBR_PARSER, "[Failed] J (1 VMs)", "Backup job: J\nnothing else", "states no result"),
        (veeam.VBR_PARSER, "[Success] x (1 VMs)", "Backup job: (Retry 1)\nSuccess", "has no job name"),
        (veeam.AGENT_PARSER, "x", "Agent Backup job: (Full)\nVeeam Agent for Microsoft Windows\nSuccess",
         "no job name"),
        (veeam.VB365_PARSER, "x", "Backup job: (Retry 2)\nVeeam Backup for Microsoft 365\nFailed", "no job name"),
        (veeam.VBR_PARSER, "x", "no report here", "no Veeam report header"),
        (synology.HYPER_BACKUP_PARSER, "Hyper Backup ok", "", "subject is not"),
        (synology.ACTIVE_BACKUP_PARSER, "Active Backup for Business", "", "subject is not"),
        (synology.ACTIVE_BACKUP_PARSER, "Active Backup for Business - Backup task T on nas01 xyzzy", "",
         "unknown Active Backup result"),
        (synology.SNAPSHOT_REPLICATION_PARSER, "Replication", "", "not a known Snapshot Replication event"),
        (synology.USB_COPY_PARSER, "USB", "", "not a known USB Copy event"),
        (synology.UPDATES_PARSER, "DSM", "", "not a known DSM or package update notice"),
        (synology.ACCOUNT_PROTECTION_PARSER, "Synology NAS", "", "not a known IP block"),
        (threecx.BACKUP_PARSER, "3CX Notification", "", "subject is not"),
        (threecx.BACKUP_PARSER, "3CX Notification: Backup Started - pbx.example.com", "", "unknown 3CX backup event"),
        (nakivo.NAKIVO_PARSER, "NAKIVO report", "NAKIVO Backup & Replication", "no job name"),
        (nakivo.NAKIVO_PARSER, 'Job "J" report', "NAKIVO Backup & Replication", "states no result"),
        (qnap.HBS_PARSER, "[Info] [Hybrid Backup Sync] x", "Message: [Hybrid Backup Sync] Started app", "no Hybrid"),
        (qnap.HBS_PARSER, "[Hybrid Backup Sync]", 'Message: Backup job: "J" is queued', "cannot tell the result"),
    ],
)
def test_a_matched_mail_that_cannot_be_read_gives_a_reason(parser, subject: str, text: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        parser.parse(_mail(subject, text))


def test_veeam_agent_takes_the_computer_from_the_default_subject() -> None:
    text = "Agent Backup job: Daily\nVeeam Agent for Microsoft Windows\nFailed\n"
    result = veeam.AGENT_PARSER.parse(_mail("[Failed] PC-7 - Daily - 01-01-2024 10:00", text))
    assert (result.job_name, result.overall_status, result.objects) == ("PC-7 - Daily", "failed", ())


@pytest.mark.parametrize(
    ("parser", "subject", "text", "reason"),
    [
        (synology.SNAPSHOT_REPLICATION_PARSER, "Replication report", "", "not a known Snapshot Replication event"),
        (synology.USB_COPY_PARSER, "Weekly summary", "USB Copy", "not a known USB Copy event"),
        (synology.UPDATES_PARSER, "DSM tips", "", "not a known DSM or package update notice"),
        (synology.ACCOUNT_PROTECTION_PARSER, "Welcome to your Synology NAS!", "", "not a known IP block"),
        (threecx.UPDATE_PARSER, "3CX Notification: weekly", "", "subject is not"),
        (threecx.UPDATE_PARSER, "3CX Notification: Backup Failed - pbx.example.com", "", "is not a 3CX Update event"),
    ],
)
def test_precise_matchers_refuse_lookalikes(parser, subject: str, text: str, reason: str) -> None:
    assert reason in (parser.why_not(_mail(subject, text)) or "")


def test_synology_notice_without_a_host_has_no_object() -> None:
    result = synology.UPDATES_PARSER.parse(_mail("DSM auto update is cancelled", "Dear user,\n\nCancelled.\n"))
    assert (result.overall_status, result.objects, result.informational) == ("warning", (), True)


def test_synology_usb_disconnect_names_the_nas() -> None:
    mail = _mail("External device is disconnected on nas01", "Dear user,\n\nThe USB Copy device was removed.\n")
    result = synology.USB_COPY_PARSER.parse(mail)
    assert (result.job_name, result.overall_status) == ("USB Copy", "warning")
    assert [(o.name, o.type, o.error) for o in result.objects] == [("nas01", "NAS", "The USB Copy device was removed.")]


def test_synology_new_login_without_a_greeting() -> None:
    result = synology.ACCOUNT_PROTECTION_PARSER.parse(_mail("New login to your Synology NAS", "Someone signed in."))
    assert result.objects[0].name == "unknown account"


def test_3cx_informational_event_of_unknown_tone_is_a_warning() -> None:
    result = threecx.SSL_CERTIFICATE_PARSER.parse(_mail("3CX Notification: SSL Certificate - pbx.example.com", ""))
    assert (result.overall_status, result.objects[0].error) == ("warning", None)


def test_nakivo_reads_what_it_can_when_the_layout_differs() -> None:
    html = ("<table><tr><td>Summary</td><td>Status</td></tr></table>"  # a status column but no name column
            "<table><tr><th>VM</th><th>Status</th><th>Error</th></tr><tr><td></td><td>Failed</td><td>x</td></tr>"
            "<tr><td>VM2</td><td>Failed</td><td>Snapshot failed</td></tr><tr><td>footer</td></tr></table>"
            "<p>Replication job for VMware</p><p>NAKIVO Backup &amp; Replication</p>")
    result = nakivo.NAKIVO_PARSER.parse(_mail('Job "Replica" finished', html=html))
    assert (result.job_name, result.backup_type, result.overall_status) == ("Replica", "Replication job for VMware",
                                                                            "success")
    assert [(o.name, o.status, o.error) for o in result.objects] == [("VM2", "failed", "Snapshot failed")]


def test_nakivo_without_a_result_takes_the_worst_object_and_flags_job_errors() -> None:
    html = ("<p>NAKIVO Backup &amp; Replication</p><table><tr><td>Job name:</td><td>J</td></tr></table>"
            "<table><tr><th>Name</th><th>Status</th></tr><tr><td>VM1</td><td>Failed</td></tr></table>")
    assert nakivo.NAKIVO_PARSER.parse(_mail("report", html=html)).overall_status == "failed"
    text = "NAKIVO Backup & Replication\nJob name: J\nStatus: Successful\nError: Repository is not accessible"
    result = nakivo.NAKIVO_PARSER.parse(_mail("report", text))
    assert (result.overall_status, result.message, result.backup_type) == (
        "warning", "Repository is not accessible", "Backup job")


def test_qnap_without_a_severity_reads_the_sentence() -> None:
    text = 'Message: [Hybrid Backup Sync] Backup job: "Nightly" finished.'
    result = qnap.HBS_PARSER.parse(_mail("[Hybrid Backup Sync]", text))
    assert (result.job_name, result.overall_status, result.run_at) == ("Nightly", "success", None)
