"""Cove Data Protection as an admin sets it up: settings, Test connection, Run import now; the accounts
from the fake Cove server wait unmatched; one becomes a new job; its runs and data sources show in Run
Checks and on the job's page; a second import adds the new session once, a third adds nothing."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.fakes.cove_server import running_cove_fake

from .conftest import log_in

pytestmark = pytest.mark.browser

CUSTOMER = "Cove Browser Customer"


def _run_import_and_wait(page, expected: str, timeout: float = 30.0) -> str:
    page.goto("/settings/cove")
    page.click("#run-import-now")
    page.wait_for_load_state()
    assert "Cove import started" in page.inner_text(".alert")
    deadline = time.monotonic() + timeout
    while True:
        summary = page.inner_text("#last-import-summary")
        if expected in summary and page.inner_text("#last-import-status").strip() in ("OK", "Error"):
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(f"the import did not finish with {expected!r}; last summary: {summary!r}")
        time.sleep(0.3)
        page.reload()


def _job_runs(page, job_url: str) -> list[str]:
    page.goto(job_url)
    return page.locator("#runs-table tbody tr").all_inner_texts()


def test_set_up_import_link_and_see_the_runs(page):
    with running_cove_fake(accounts=60, seed=7) as fake:
        target = next(a for a in fake.accounts()[13:]
                      if a.get("I32") == "2" and a.get("D10F0") and a.get("D9F15") and a.get("I18"))
        settings = fake.client_settings()
        log_in(page, "admin")

        # Settings: the password field stays empty after saving; Test connection tells the partner id.
        page.goto("/settings/cove")
        page.check("#enabled")
        page.fill("#api_url", settings["api_url"])
        page.fill("#username", settings["username"])
        page.fill("#password", settings["password"])
        page.check("#import_enabled")
        page.click("#cove-settings-form button[type=submit]")
        page.wait_for_load_state()
        assert "Cove settings saved." in page.inner_text(".alert")
        assert page.input_value("#password") == "" and page.locator("#password-stored").is_visible()
        page.click("#test-connection")
        expect(page.locator("#test-result")).to_contain_text(f"partner id {fake.partner_id}")
        expect(page.locator("#partner-id")).to_contain_text(str(fake.partner_id))

        summary = _run_import_and_wait(page, "60 account(s) (60 new")
        assert "0 error(s)" in summary

        # The accounts wait unmatched; find one and create a job for it.
        page.click("#navbar-items >> text=Cove Accounts")
        page.wait_for_load_state()
        assert page.inner_text("#unmatched-count") == "60"
        page.fill("#cove-filter input[name=q]", target.get("I18"))
        page.click("#cove-filter button")
        page.wait_for_load_state()
        row = page.locator(".cove-row", has_text=target.get("I1"))
        expect(row).to_have_count(1)
        assert "MS SQL" in row.inner_text() and "Server" in row.inner_text()
        row.locator(".create-job").click()
        modal = page.locator("#create-job-modal")
        expect(modal).to_be_visible()
        assert target.get("I1") in modal.locator(".modal-job-name").inner_text()
        # No customer of Cove's name exists yet: the modal offers it as a new one.
        assert page.input_value("#create-new-customer") == target.get("I8")
        page.fill("#create-new-customer", CUSTOMER)
        page.click("#create-job-submit")
        page.wait_for_load_state()
        assert "1 run(s) imported" in page.inner_text(".alert")
        assert page.inner_text("#unmatched-count") == "59"
        page.click("#tab-matched")
        page.wait_for_load_state()
        assert CUSTOMER in page.inner_text("#cove-matched-table")

        # Run Checks: the job's modal shows the run with its data sources.
        page.goto("/run-checks")
        check_row = page.locator(".check-row", has_text=CUSTOMER)
        check_row.locator(".open-job").click()
        page.wait_for_selector("#run-detail")
        expect(page.locator(".run-card")).to_have_count(1)
        card = page.locator(".run-card").first
        assert "cove_api" in card.inner_text()
        assert "Files and Folders" in card.inner_text() and "MS SQL" in card.inner_text()
        job_url = page.locator("#run-detail a", has_text="Job details").get_attribute("href")
        page.keyboard.press("Escape")

        # The job's page: the run, its remark, the data sources.
        assert len(_job_runs(page, job_url)) == 1
        assert target.get("I18") in page.inner_text("#runs-table")
        objects = page.inner_text("#objects-table")
        assert "MS SQL" in objects and "Data source" in objects

        # Unlink, then link the account back to its job through the other modal: no second run.
        page.goto("/cove/accounts?view=matched")
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(".cove-row", has_text=target.get("I1")).locator(".unlink-form button").click()
        page.wait_for_load_state()
        assert "the job keeps its runs" in page.inner_text(".alert")
        page.goto("/cove/accounts")
        page.fill("#cove-filter input[name=q]", target.get("I1"))
        page.click("#cove-filter button")
        page.wait_for_load_state()
        page.locator(".cove-row", has_text=target.get("I1")).locator(".link-job").click()
        expect(page.locator("#link-job-modal")).to_be_visible()
        page.fill("#link-job-filter", f"{CUSTOMER} {target.get('I1')}")
        page.select_option("#link-job-select", label=f"{target.get('I1')} · Cove Data Protection · Server")
        page.click("#link-job-submit")
        page.wait_for_load_state()
        assert "Cove account linked to job" in page.inner_text(".alert") and "0 run(s) imported" in page.inner_text(
            ".alert")
        assert len(_job_runs(page, job_url)) == 1

        # A new session in Cove: the next import adds it once; one more import adds nothing.
        fake.advance_session(target.account_id, status=8)
        _run_import_and_wait(page, "1 changed), 1 linked, 1 run(s) created")
        runs = _job_runs(page, job_url)
        assert len(runs) == 2 and "Completed with errors (8)" in runs[0]
        _run_import_and_wait(page, "0 changed), 1 linked, 0 run(s) created, 1 already imported")
        assert len(_job_runs(page, job_url)) == 2
