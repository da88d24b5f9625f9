from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.app.extensions import db
from backend.app.models import AuditLog, LoginAttempt, User
from backend.app.models.types import utcnow
from backend.app.services.users import MAX_FAILURES_PER_USERNAME

from ..conftest import login
from ..factories import DEFAULT_PASSWORD, make_user


def _events(event_type: str) -> list[AuditLog]:
    return db.session.scalars(select(AuditLog).where(AuditLog.event_type == event_type)).all()


def test_login_and_logout(client):
    user = make_user("operator", username="olga")
    db.session.commit()
    response = login(client, "OLGA")  # usernames are case-insensitive
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/dashboard").status_code == 200
    assert user.last_login_at is not None
    assert _events("login")[-1].username == "olga"
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_is_refused_and_recorded(client):
    make_user("viewer", username="vera")
    db.session.commit()
    response = login(client, "vera", "wrong password")
    assert response.status_code == 401
    assert "Invalid username or password" in response.get_data(as_text=True)
    assert _events("login_failed")[-1].message.startswith("Failed login for 'vera'")
    assert client.get("/dashboard").status_code == 302


def test_logins_are_rate_limited_per_username(client):
    make_user("viewer", username="rita")
    db.session.commit()
    for _ in range(MAX_FAILURES_PER_USERNAME):
        assert login(client, "rita", "nope").status_code == 401
    # Even the right password is refused while the limit holds.
    response = login(client, "rita")
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.get_data(as_text=True)
    assert _events("login_blocked")


def test_rate_limit_expires_after_the_window(client):
    make_user("viewer", username="tim")
    old = utcnow() - timedelta(minutes=16)
    for _ in range(MAX_FAILURES_PER_USERNAME):
        db.session.add(LoginAttempt(username="tim", remote_addr="127.0.0.1", attempted_at=old))
    db.session.commit()
    assert login(client, "tim").status_code == 302


def test_deactivated_user_cannot_log_in(client):
    make_user("viewer", username="gone", active=False)
    db.session.commit()
    assert login(client, "gone").status_code == 401


def test_next_parameter_only_allows_local_paths(client):
    make_user("viewer", username="nick")
    db.session.commit()
    response = client.post("/login?next=https://evil.example/", data={"username": "nick", "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login?next=/customers", data={"username": "nick", "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/customers"


def test_switch_role_changes_what_the_user_may_open(client, login_as):
    user = login_as("admin", "viewer")
    assert client.get("/settings").status_code == 200
    response = client.post("/switch-role", data={"role": "viewer"})
    assert response.status_code == 302
    assert user.active_role == "viewer"
    assert client.get("/settings").status_code == 403
    # A role the user does not hold cannot be chosen.
    client.post("/switch-role", data={"role": "operator"})
    assert user.active_role == "viewer"


def test_change_own_password(client, login_as):
    user = login_as("viewer")
    response = client.post("/profile", data={"current_password": "bad", "new_password": "another long one",
                                             "confirm": "another long one"})
    assert "Current password is wrong" in response.get_data(as_text=True)
    response = client.post("/profile", data={"current_password": DEFAULT_PASSWORD, "new_password": "short",
                                             "confirm": "short"})
    assert "at least 10 characters" in response.get_data(as_text=True)
    response = client.post("/profile", data={"current_password": DEFAULT_PASSWORD, "new_password": "another long one",
                                             "confirm": "different one!!"})
    assert "The passwords differ" in response.get_data(as_text=True)
    response = client.post("/profile", data={"current_password": DEFAULT_PASSWORD, "new_password": "another long one",
                                             "confirm": "another long one"})
    assert response.status_code == 302
    assert user.check_password("another long one")


def test_admin_creates_user_with_generated_password(client, login_as):
    login_as("admin")
    response = client.post("/users/new", data={"username": "newbie", "roles": ["operator", "viewer"], "email": ""},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "User newbie created. Their password is" in page
    user = db.session.scalar(select(User).where(User.username == "newbie"))
    assert user.roles == ["operator", "viewer"] and user.active_role == "operator"
    password = page.split("Their password is ")[1].split(" ")[0]
    client.post("/logout")
    assert login(client, "newbie", password).status_code == 302


def test_admin_cannot_create_duplicate_or_roleless_user(client, login_as):
    login_as("admin", username="boss")
    response = client.post("/users/new", data={"username": "BOSS", "roles": ["viewer"], "password": "long enough pw"})
    assert "already exists" in response.get_data(as_text=True)
    response = client.post("/users/new", data={"username": "x", "password": "long enough pw"})
    assert "Choose at least one role" in response.get_data(as_text=True)


def test_admin_edits_roles_and_deactivates(client, login_as):
    login_as("admin")
    other = make_user("viewer", username="walt")
    db.session.commit()
    response = client.post(f"/users/{other.id}/edit", data={"roles": ["reporter"], "email": "w@example.com"})
    assert response.status_code == 302
    assert other.roles == ["reporter"] and other.active_role == "reporter" and not other.active
    assert "deactivated" in _events("user_updated")[-1].message


def test_admin_cannot_lock_themselves_out(client, login_as):
    admin = login_as("admin")
    response = client.post(f"/users/{admin.id}/edit", data={"roles": ["viewer"], "active": "y"})
    assert "cannot remove the admin role from yourself" in response.get_data(as_text=True)
    assert admin.has_role("admin")


def test_last_admin_cannot_be_demoted(client, login_as):
    login_as("admin", username="first")
    second = make_user("admin", username="second")
    db.session.commit()
    # Demoting "second" is fine while "first" remains an active admin.
    assert client.post(f"/users/{second.id}/edit", data={"roles": ["viewer"], "active": "y"}).status_code == 302


def test_admin_resets_password(client, login_as):
    login_as("admin")
    other = make_user("viewer", username="pam")
    db.session.commit()
    response = client.post(f"/users/{other.id}/reset-password", data={"new_password": "brand new password"})
    assert response.status_code == 302
    assert other.check_password("brand new password")
    response = client.post(f"/users/{other.id}/reset-password", data={"new_password": ""}, follow_redirects=True)
    generated = response.get_data(as_text=True).split("reset to ")[1].split(" ")[0]
    assert other.check_password(generated)


def test_forms_and_fetch_calls_need_the_csrf_token(app, client):
    make_user("admin", username="csrf")
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/login", data={"username": "csrf", "password": DEFAULT_PASSWORD})
        assert response.status_code == 400
        assert "Form expired" in response.get_data(as_text=True)
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        response = client.post("/login", data={"username": "csrf", "password": DEFAULT_PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        # A state-changing call without the token is refused, with the header it passes.
        assert client.post("/switch-role", data={"role": "admin"}).status_code == 400
        meta = client.get("/dashboard").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
        assert client.post("/switch-role", data={"role": "admin"}, headers={"X-CSRFToken": meta}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
