"""Edge cases of the Proxmox VE and Proxmox Backup Server parsers that the golden fixtures do not reach."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.app.parsers.base import NormalizedMail, ParseError
from backend.app.parsers.proxmox_backup_server import PBS_JOB_PARSER, PBS_NOTICE_PARSER
from backend.app.parsers.proxmox_ve import PVE_NOTICE_PARSER, PVE_VZDUMP_PARSER

HOUR = timedelta(hours=1)


def mail(subject: str, text: str = "", html: str = "", offset: timedelta | None = HOUR) -> NormalizedMail:
    return NormalizedMail("root@pve01.example.com", subject, text, html, None, (), offset)


LEGACY_WITH_NAMES = """VMID NAME       STATUS   TIME       SIZE     FILENAME
100  dc01       ok       00:01:10   4.12GB   /var/lib/vz/dump/vzdump-qemu-100-2023_01_01-01_00_00.vma.zst
101  web01      err      00:00:02   0.00MB   -
TOTAL                    00:01:12   4.12GB

Detailed backup logs:

vzdump 100 101 --mode snapshot --dumpdir /mnt/usb

101: 2023-01-01 01:01:10 ERROR: unable to find VM '101'
"""


def test_legacy_text_table_with_name_column_and_no_html_part() -> None:
    subject = "vzdump backup status (pve01.example.com) : backup failed"
    result = PVE_VZDUMP_PARSER.parse(mail(subject, LEGACY_WITH_NAMES))
    assert [(o.name, o.status, o.error) for o in result.objects] == [
        ("dc01", "success", None),
        ("web01", "failed", "unable to find VM '101'"),
    ]
    # No --storage on the command line (a dump directory): the job is the node alone.
    assert result.job_name == "pve01.example.com"
    assert result.run_at is not None and result.run_at.isoformat() == "2023-01-01T00:01:10+00:00"


def test_html_guest_table_after_a_layout_table_and_an_empty_text_part() -> None:
    html = (
        "<html><body><table><tr><td>Report</td></tr></table>"
        "<table><tr><th>VMID</th><th>Name</th><th>Status</th><th>Time</th><th>Size</th><th>Filename</th></tr>"
        "<tr><td>200</td><td></td><td>ok</td><td>5s</td><td>1 GiB</td><td>ct/200/x</td></tr></table>"
        "</body></html>"
    )
    result = PVE_VZDUMP_PARSER.parse(mail("vzdump backup status (pve02.example.com): backup successful", "  ", html))
    assert [(o.name, o.status) for o in result.objects] == [("VM 200", "success")]


def test_success_subject_without_any_table_still_reports_success() -> None:
    for html in ("", "<html><body><p>no table here</p></body></html>"):
        result = PVE_VZDUMP_PARSER.parse(mail("vzdump backup status (pve03): backup successful", "", html))
        assert result.overall_status == "success" and result.objects == ()


def test_multiple_problems_without_a_recognisable_body_gives_no_message() -> None:
    result = PVE_VZDUMP_PARSER.parse(mail("vzdump backup status (pve04): backup failed: multiple problems", "x"))
    assert result.overall_status == "failed" and result.message is None


def test_a_subject_that_lost_its_status_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="vzdump backup status"):
        PVE_VZDUMP_PARSER.parse(mail("vzdump backup status (pve05)"))


def test_notice_parser_leaves_pbs_update_mails_to_the_pbs_parser() -> None:
    pbs = mail(
        "New software packages available (pbs01)",
        "Proxmox Backup Server has the following updates available:\n    a: 1 -> 2\n",
    )
    assert PVE_NOTICE_PARSER.why_not(pbs) == "update notice comes from Proxmox Backup Server"
    assert PVE_NOTICE_PARSER.why_not(mail("Something else")) is not None


def test_notice_parser_refuses_other_subjects_and_reads_empty_update_lists() -> None:
    with pytest.raises(ParseError):
        PVE_NOTICE_PARSER.parse(mail("Test notification"))
    text = "The following updates are available:\n"
    result = PVE_NOTICE_PARSER.parse(mail("New software packages available (pve01)", text))
    assert result.informational and result.message is None
    replication = PVE_NOTICE_PARSER.parse(mail("Replication Job: 100-0 failed", "no error section"))
    assert replication.objects[0].error is None


def test_pbs_job_parser_edge_cases() -> None:
    with pytest.raises(ParseError):
        PBS_JOB_PARSER.parse(mail("Something else entirely"))
    tape = PBS_JOB_PARSER.parse(mail("Tape Backup 'daily' datastore 'store1' successful", "Tape Backup successful.\n"))
    assert tape.job_name == "daily" and tape.objects[0].name == "store1"
    sync = PBS_JOB_PARSER.parse(mail("Sync remote 'dr' datastore 'store1' failed", ""))
    assert sync.job_name == "dr/store1" and sync.overall_status == "failed" and sync.objects[0].error is None
    local = PBS_JOB_PARSER.parse(mail("Sync local datastore 'store1' successful", ""))
    assert local.job_name == "local/store1"


def test_pbs_notice_parser_edge_cases() -> None:
    with pytest.raises(ParseError):
        PBS_NOTICE_PARSER.parse(mail("Garbage Collect Datastore 'x' successful"))
    text = "Please insert the requested media into the changer.\n"
    tape = PBS_NOTICE_PARSER.parse(mail("Load Media 'T1' request for changer 'sl3'", text))
    assert tape.objects[0].error is None and tape.job_name == "sl3"
    acme = PBS_NOTICE_PARSER.parse(mail("Could not renew certificate", "no details"))
    assert acme.job_name == "Proxmox Backup Server" and acme.objects[0].error is None
    updates = PBS_NOTICE_PARSER.parse(mail("New software packages available (pbs01)", "nothing listed"))
    assert updates.message is None
