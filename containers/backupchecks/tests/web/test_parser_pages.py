from __future__ import annotations

import io

from backend.app.parsers.registry import PARSERS

from ..mailfactory import fixture_mail


def test_parsers_page_lists_the_registry_in_order(client, login_as):
    login_as("admin")
    page = client.get("/parsers").get_data(as_text=True)
    positions = [page.index(f"<code>{p.key}</code>") for p in PARSERS]
    assert positions == sorted(positions)
    assert "subject contains" in page or "from contains" in page


def test_bench_shows_the_full_result_for_an_uploaded_mail(client, login_as):
    login_as("operator")
    response = client.post("/parsers/test", data={"eml": (io.BytesIO(fixture_mail("3cx/3cx-backup-failed.eml")),
                                                          "m.eml")}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert "Parsed by <code>3cx_backup</code>" in page and "pbx.example.com" in page
    assert page.count('class="table-success"') == 1


def test_bench_explains_why_no_parser_matches_a_pasted_mail(client, login_as):
    login_as("operator")
    raw = "From: someone@example.com\nSubject: Lunch on Friday?\n\nAre you coming?\n"
    page = client.post("/parsers/test", data={"raw": raw}).get_data(as_text=True)
    assert "No parser recognises this mail." in page
    assert page.count("<tr class=\"\">") == len(PARSERS)
    assert "sender does not contain" in page or "subject does not" in page


def test_bench_refuses_empty_and_non_mail_input(client, login_as):
    login_as("operator")
    assert "Upload an .eml file or paste" in client.post("/parsers/test", data={"raw": "  "}).get_data(as_text=True)
    page = client.post("/parsers/test", data={"raw": "just some words"}).get_data(as_text=True)
    assert 'id="bench-error"' in page and "This is not a mail" in page
