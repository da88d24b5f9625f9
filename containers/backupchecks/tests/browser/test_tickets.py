"""Tickets as an operator meets them: an Autotask ticket for a failed run (against the fake Autotask),
carried to the job's next failures, and stopped by completing it in Autotask while old runs keep it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import Customer, Job, JobRun

from ..fakes.autotask_server import running_autotask_fake
from ..mailfactory import FIXTURES, variant
from ..unit.test_autotask_sync import DEFAULTS, configure
from .conftest import log_in

pytestmark = pytest.mark.browser
# A PBX of its own, so the other browser tests' 3CX job (same live server) is not this one.
FAILED = (FIXTURES / "3cx" / "3cx-backup-failed.eml").read_bytes().replace(b"pbx.example.com", b"pbx.tickets.example")
CUSTOMER = "Ticket Phone Co"


def _upload(page, tmp_path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(variant(FAILED, f"<{name}@pbx>"))
    page.goto("/inbox")
    page.set_input_files("#upload-form input[type=file]", str(path))
    page.click("#upload-form button")
    page.wait_for_load_state()


def _open_job(page) -> None:
    page.goto("/run-checks")
    page.locator(".check-row", has_text=CUSTOMER).locator(".open-job").click()
    page.wait_for_selector("#run-detail .run-card")


def _ticket_numbers(live_server) -> list[str | None]:
    with live_server.app.app_context():
        return list(db.session.scalars(
            select(JobRun.autotask_ticket_number).join(Job, Job.id == JobRun.job_id)
            .join(Customer, Customer.id == Job.customer_id).where(Customer.name == CUSTOMER)
            .order_by(JobRun.run_at, JobRun.id)))


def test_autotask_ticket_follows_the_job_until_completed_in_autotask(page, live_server, tmp_path):
    with running_autotask_fake() as fake:
        with live_server.app.app_context():
            configure(fake, defaults=DEFAULTS)
        log_in(page, "admin")

        # A failing 3CX backup arrives and is approved for a new customer.
        _upload(page, tmp_path, "tk-first")
        page.locator(".mail-row", has_text="pbx.tickets.example").first.click()
        page.wait_for_selector("#approve-panel")
        page.fill("#approve-panel input[name=new_customer_name]", CUSTOMER)
        page.click("#approve-button")
        page.wait_for_load_state()

        # Without a company mapping Autotask tickets are refused with the reason.
        _open_job(page)
        page.click(".run-card .create-autotask")
        expect(page.locator(".run-card .action-result")).to_contain_text("mapped")

        # Map the customer to its Autotask company on the customer's page.
        with live_server.app.app_context():
            customer_id = db.session.scalar(select(Customer.id).where(Customer.name == CUSTOMER))
        page.goto(f"/customers/{customer_id}/edit")
        page.fill("#autotask-search input[name=q]", "Alpha")
        page.click("#autotask-search button")
        page.locator("#autotask-results button", has_text="Map").first.click()
        page.wait_for_load_state()
        expect(page.locator("#autotask-mapping-status")).to_have_text("Mapped")

        # Create the Autotask ticket from the run modal.
        _open_job(page)
        page.click(".run-card .create-autotask")
        expect(page.locator(".run-card .autotask-ticket")).to_contain_text("T20")
        number = page.locator(".run-card .autotask-ticket strong").first.inner_text()
        assert [t["ticketNumber"] for t in fake.tickets()] == [number]
        expect(page.locator(".run-card .run-alerts")).to_contain_text(number)
        page.keyboard.press("Escape")

        # The job's next failure carries the same ticket, and the queue row shows 🎫.
        _upload(page, tmp_path, "tk-second")
        page.goto("/run-checks")
        expect(page.locator(".check-row", has_text=CUSTOMER).locator(".indicator-ticket")).to_have_count(1)
        _open_job(page)
        expect(page.locator(".run-card .autotask-ticket")).to_have_count(2)
        assert _ticket_numbers(live_server) == [number, number]

        # Completed in Autotask; the sync (Settings → Autotask → Sync now) resolves it here.
        fake.complete_ticket(int(fake.tickets()[0]["id"]))
        page.goto("/settings/autotask")
        page.click("#sync-now")
        page.wait_for_load_state()
        for _ in range(50):
            page.goto("/settings/autotask")
            if "1 completed" in page.inner_text("#last-sync"):
                break
            page.wait_for_timeout(200)
        expect(page.locator("#last-sync")).to_contain_text("1 completed")
        page.goto("/tickets?show=resolved")
        expect(page.locator("#tickets-table")).to_contain_text(number)

        # A third failure gets no ticket; the first two keep theirs.
        _upload(page, tmp_path, "tk-third")
        assert _ticket_numbers(live_server) == [number, number, None]
        page.goto("/run-checks")
        expect(page.locator(".check-row", has_text=CUSTOMER).locator(".indicator-ticket")).to_have_count(0)
        _open_job(page)
        cards = page.locator(".run-card")
        expect(cards).to_have_count(3)
        expect(cards.nth(0).locator(".autotask-ticket")).to_have_count(0)
        expect(cards.nth(0).locator(".run-alerts")).not_to_contain_text(number)
        expect(cards.nth(1).locator(".run-alerts")).to_contain_text(number)
        expect(cards.nth(2).locator(".run-alerts")).to_contain_text("resolved")


def test_copy_button_copies_the_ticket_number_and_confirms_for_800_ms(page, live_server):
    from backend.app.services.tickets import ScopeInput, create_ticket

    from ..factories import make_customer, make_job

    with live_server.app.app_context():
        job = make_job(make_customer("Copy Co"), job_name="Copy job")
        create_ticket(None, code="T20261125.0999", description="Copy me", scope=ScopeInput("job", job_id=job.id))
        db.session.commit()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, "admin")
    page.goto("/tickets?q=copy+me")
    button = page.locator("#tickets-table .copy-ticket").first
    button.click()
    expect(button).to_have_text("✓")
    assert page.evaluate("navigator.clipboard.readText()") == "T20261125.0999"
    expect(button).to_have_text("⧉", timeout=2000)

    # Without the Clipboard API (older browsers, no secure context) the execCommand fallback copies.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});"
                         "window.copiedWith = []; document.execCommand = function (c) {"
                         " window.copiedWith.push([c, document.activeElement.value]); return true; };")
    page.goto("/tickets?q=copy+me")
    button = page.locator("#tickets-table .copy-ticket").first
    button.click()
    expect(button).to_have_text("✓")
    assert page.evaluate("window.copiedWith") == [["copy", "T20261125.0999"]]
