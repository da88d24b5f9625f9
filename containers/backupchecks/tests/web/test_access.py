"""Every route declares its roles, and every page answers each role as declared."""

from __future__ import annotations

import pytest

from backend.app.auth.access import ACCESS_ATTRIBUTE, PUBLIC
from backend.app.extensions import db
from backend.app.models import ROLES, Override
from backend.app.services.mail_ingest import ingest_message
from backend.app.services.tickets import ScopeInput, create_remark, create_ticket

from ..factories import make_customer, make_job, make_run
from ..mailfactory import simple_mail

# Endpoints that need no login. Everything else must declare roles.
PUBLIC_ENDPOINTS = {"auth.login", "main.health", "static", "bootstrap.static"}


def test_every_endpoint_declares_roles(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, ACCESS_ATTRIBUTE, None)
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        if declared is None or declared == PUBLIC:
            undeclared.append(f"{rule.endpoint} ({rule.rule})")
    assert undeclared == [], "endpoints without a roles_required declaration: " + ", ".join(undeclared)


def test_public_endpoints_are_exactly_the_expected_ones(app):
    public = {rule.endpoint for rule in app.url_map.iter_rules()
              if getattr(app.view_functions[rule.endpoint], ACCESS_ATTRIBUTE, None) == PUBLIC}
    assert public == {"auth.login", "main.health"}


def _page_urls(app) -> list[tuple[str, str]]:
    """(endpoint, url) for every GET page, with ids of real rows filled in."""
    customer = make_customer()
    job = make_job(customer)
    run = make_run(job)
    override = Override(level="object", job_id=job.id, error_match="contains")
    db.session.add(override)
    from ..factories import make_user

    other = make_user("viewer")
    mail = ingest_message(simple_mail(attachment=("report.csv", "text/csv", b"a,b\n1,2\n"))).mail
    ticket = create_ticket(other, code=None, description="Disk full", scope=ScopeInput("job", job_id=job.id))
    remark = create_remark(other, body="Known", scope=ScopeInput("customer", customer_id=customer.id))
    db.session.commit()
    ids = {"customer_id": customer.id, "job_id": job.id, "user_id": other.id, "slug": "roles", "mail_id": mail.id,
           "index": 0, "run_id": run.id, "override_id": override.id, "ticket_id": ticket.id,
           "remark_id": remark.id}
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            args = {name: ids[name] for name in rule.arguments}
            urls.append((rule.endpoint, url_for(rule.endpoint, **args)))
    return urls


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_pages(app, client, login_as, role):
    login_as(role)
    checked = 0
    for endpoint, url in _page_urls(app):
        allowed = getattr(app.view_functions[endpoint], ACCESS_ATTRIBUTE)
        response = client.get(url)
        if role in allowed:
            assert response.status_code in (200, 302), f"{role} should open {url}, got {response.status_code}"
            if response.status_code == 302:
                # A redirect for an allowed page must not be a refusal in disguise.
                assert "/login" not in response.headers["Location"], url
        else:
            assert response.status_code == 403, f"{role} must be refused {url}, got {response.status_code}"
        checked += 1
    assert checked >= 15


def test_admin_only_pages_are_refused_to_everyone_else(app, client, login_as):
    login_as("operator", "viewer")
    for url in ("/users", "/settings", "/logging", "/users/new", "/settings/cove"):
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_login(app, client):
    for url in ("/", "/dashboard", "/customers", "/jobs", "/users", "/documentation/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_reporter_lands_on_documentation_and_sees_no_data_pages(client, login_as):
    login_as("reporter")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/documentation/")
    page = client.get("/documentation/").get_data(as_text=True)
    assert 'href="/customers"' not in page and 'href="/dashboard"' not in page


def test_navbar_shows_admin_menu_only_to_admins(client, login_as):
    login_as("admin", "viewer")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="admin-menu"' in page and "/logging" in page
    client.post("/switch-role", data={"role": "viewer"})
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="admin-menu"' not in page and "/logging" not in page
    assert client.get("/logging").status_code == 403
