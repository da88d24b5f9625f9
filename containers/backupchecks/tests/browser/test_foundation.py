"""The foundation as a person uses it: log in, switch role, add a customer, be refused."""

from __future__ import annotations

import uuid

import pytest

from .conftest import log_in

pytestmark = pytest.mark.browser


def test_login_shows_the_dashboard_and_wrong_password_does_not(page):
    log_in(page, "admin", "wrong password!")
    assert "Invalid username or password" in page.inner_text("main")
    log_in(page, "admin")
    assert page.url.endswith("/dashboard")
    assert page.locator("h1").inner_text().startswith("Dashboard")
    assert page.locator("#admin-menu").is_visible()


def test_switch_role_from_the_navbar(page):
    log_in(page, "admin")
    page.click("#role-switcher > a")
    page.click("#role-switcher button[value=viewer]")
    page.wait_for_load_state()
    assert page.inner_text("#active-role") == "Viewer"
    assert page.locator("#admin-menu").count() == 0
    response = page.goto("/settings")
    assert response.status == 403
    assert "Not allowed" in page.inner_text("main")
    page.click("#role-switcher > a")
    page.click("#role-switcher button[value=admin]")
    page.wait_for_load_state()
    assert page.inner_text("#active-role") == "Admin"
    page.click("#admin-menu > a")
    page.click("text=Settings")
    assert page.url.endswith("/settings")


def test_create_a_customer_and_find_it_in_the_list(page):
    name = f"Browser Customer {uuid.uuid4().hex[:6]}"
    log_in(page, "admin")
    page.click("#navbar-items >> text=Customers")
    page.click("text=New customer")
    page.fill("#name", name)
    page.fill("#notes", "created by the browser test")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert f"Customer {name} created." in page.inner_text(".alert")
    page.fill("input[name=q]", name)
    page.click("text=Filter")
    page.wait_for_load_state()
    rows = page.locator("#customers-table tbody tr")
    assert rows.count() == 1
    page.click(f"#customers-table >> text={name}")
    page.wait_for_load_state()
    assert "/jobs?customer_id=" in page.url
    assert name in page.inner_text("#filter-banner")


def test_viewer_is_refused_the_admin_pages(page):
    log_in(page, "viewer")
    assert page.locator("#admin-menu").count() == 0
    assert page.locator("text=New customer").count() == 0 or not page.locator("text=New customer").is_visible()
    for path in ("/users", "/settings", "/logging", "/customers/new"):
        response = page.goto(path)
        assert response.status == 403, path
        assert "Not allowed" in page.inner_text("main")


def test_navbar_collapses_on_a_phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        log_in(page, "admin")
        assert not page.locator("#navbar-items").is_visible()
        page.click(".navbar-toggler")
        page.locator("#navbar-items").wait_for(state="visible")
        assert page.locator("#navbar-items >> text=Customers").is_visible()
    finally:
        context.close()
