"""The Inbox as an operator uses it: upload mails, open one, approve it, delete another, re-parse."""

from __future__ import annotations

import pytest

from ..mailfactory import FIXTURES, simple_mail, variant
from .conftest import log_in

pytestmark = pytest.mark.browser


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_upload_open_approve_delete_and_reparse(page, tmp_path):
    raw = (FIXTURES / "synology" / "hb-en-success.eml").read_bytes()
    files = [_write(tmp_path, f"night{i}.eml", variant(raw, f"<browser-hb-{i}@nas01>")) for i in range(3)]
    files.append(_write(tmp_path, "other.eml", simple_mail("Browser unrelated mail", message_id="<browser-x@x>")))
    log_in(page, "admin")
    page.click("#nav-inbox")
    page.set_input_files("#upload-form input[type=file]", files)
    page.click("#upload-form button")
    page.wait_for_load_state()
    assert "4 file(s) uploaded: 4 new mail(s)" in page.inner_text(".alert")
    assert page.locator("#inbox-badge").inner_text().strip() != ""

    # Open one mail: headers, parse result and the body in a sandboxed frame.
    page.locator(".mail-row", has_text="Daily to C2").first.click()
    page.wait_for_selector("#mail-detail")
    assert "synology_hyper_backup" in page.inner_text("#parse-result")
    frame = page.locator("#mail-detail iframe")
    assert frame.get_attribute("sandbox") == ""
    assert "Daily to C2" in page.frame_locator("#mail-detail iframe").locator("body").inner_text()

    # Approve with a new customer: all three nights become runs of the new job.
    page.fill("#approve-panel input[name=new_customer_name]", "Browser Storage BV")
    page.click("#approve-button")
    page.wait_for_load_state()
    assert "3 mail(s) became runs" in page.inner_text(".alert")
    assert page.locator(".mail-row", has_text="Daily to C2").count() == 0

    # Delete the unrelated mail with the bulk action.
    page.locator(".mail-row", has_text="Browser unrelated mail").locator(".mail-check").check()
    assert page.inner_text("#selected-count") == "1"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-delete")
    page.wait_for_load_state()
    assert "1 mail(s) deleted." in page.inner_text(".alert")
    page.goto("/inbox/deleted")
    assert "Browser unrelated mail" in page.inner_text("#deleted-table")

    # Re-parse all: the progress bar follows the background pass to its end.
    page.goto("/inbox")
    page.click("#reparse-all-form button")
    page.wait_for_load_state()
    page.wait_for_function("document.getElementById('reparse-label').textContent.includes('re-parsed')",
                           timeout=20_000)

    page.goto("/jobs")
    assert "Daily to C2" in page.inner_text("#jobs-table")
