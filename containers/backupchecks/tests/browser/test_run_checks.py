"""Run Checks as an operator uses it: mark as success with an override, see the next failure arrive as
"Success (override)", then empty the job's queue by reviewing it; keyboard navigation."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..mailfactory import FIXTURES, variant
from .conftest import log_in

pytestmark = pytest.mark.browser


def _upload(page, tmp_path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.goto("/inbox")
    page.set_input_files("#upload-form input[type=file]", str(path))
    page.click("#upload-form button")
    page.wait_for_load_state()


def test_override_from_a_run_then_review_the_queue(page, tmp_path):
    failed = (FIXTURES / "3cx" / "3cx-backup-failed.eml").read_bytes()
    log_in(page, "admin")
    _upload(page, tmp_path, "first.eml", variant(failed, "<rc-first@pbx>"))
    page.locator(".mail-row", has_text="pbx.example.com").first.click()
    page.wait_for_selector("#approve-panel")
    page.fill("#approve-panel input[name=new_customer_name]", "Run Checks Phone Co")
    page.click("#approve-button")
    page.wait_for_load_state()

    page.click("#navbar-items >> text=Run Checks")
    row = page.locator(".check-row", has_text="Run Checks Phone Co")
    assert "Failed" in row.inner_text()
    row.locator(".open-job").click()
    page.wait_for_selector("#run-detail")
    card = page.locator(".run-card").first
    assert "Failed" in card.locator(".run-status").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())  # yes: create an override for future runs
    card.locator(".mark-success").click()
    page.wait_for_function(
        "document.querySelector('.run-card .run-status').textContent.includes('Success (override)')")
    page.keyboard.press("Escape")
    page.wait_for_load_state()

    # The next night fails the same way: it arrives already counted as success.
    _upload(page, tmp_path, "second.eml", variant(failed, "<rc-second@pbx>"))
    assert "became runs of known jobs" in page.inner_text(".alert")
    page.goto("/run-checks")
    row = page.locator(".check-row", has_text="Run Checks Phone Co")
    row.locator(".open-job").click()
    page.wait_for_selector("#run-detail")
    statuses = page.locator(".run-card .run-status").all_inner_texts()
    assert len(statuses) == 2 and all("Success (override)" in s for s in statuses)

    # Review the job: its row leaves the queue.
    page.click("#review-job")
    expect(page.locator(".check-row", has_text="Run Checks Phone Co")).to_have_count(0)


def test_keyboard_moves_through_rows_and_reviews(page, tmp_path):
    # A job no other browser test uses: the live server's database is shared by the session.
    raw = (FIXTURES / "veeam" / "vbr-backup-success.eml").read_bytes()
    log_in(page, "admin")
    _upload(page, tmp_path, "kb.eml", variant(raw, "<kb-1@vbr01>"))
    page.locator(".mail-row", has_text="Backup Job SRV01").first.click()
    page.wait_for_selector("#approve-panel")
    page.fill("#approve-panel input[name=new_customer_name]", "Keyboard Storage")
    page.click("#approve-button")
    page.wait_for_load_state()
    page.goto("/run-checks")
    rows = page.locator(".check-row")
    target = [i for i in range(rows.count()) if "Keyboard Storage" in rows.nth(i).inner_text()][0]
    page.locator("body").click()
    for _ in range(target + 1):
        page.keyboard.press("j")
    assert "table-active" in rows.nth(target).get_attribute("class")
    page.keyboard.press("r")
    page.wait_for_function(f"document.querySelectorAll('.check-row')[{target}].classList.contains('opacity-50')")
    page.reload()
    assert page.locator(".check-row", has_text="Keyboard Storage").count() == 0
