"""The Cove import against the fake Cove server: staging, runs, dedup, links, errors, offline detection.

Real HTTP against the loopback fake and a real database; nothing of ours is patched.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.app.clients.cove import CoveClient
from backend.app.extensions import db
from backend.app.jobs import cove_import
from backend.app.models import (
    AuditLog,
    BackgroundTask,
    CoveAccount,
    Job,
    JobObjectLink,
    JobRun,
    RunObjectLink,
    TicketJobRun,
)
from backend.app.services import cove_mapping as cm
from backend.app.services.background import claim_task
from backend.app.services.cove_accounts import (
    CoveAccountError,
    accounts_query,
    create_job_for_cove_account,
    link_cove_account,
    unlink_cove_account,
)
from backend.app.services.cove_import import CoveImportSummary, days_offline, import_accounts, start_import
from backend.app.services.cove_settings import CoveSettingsInput, update_cove_settings
from backend.app.services.missed_runs import ensure_missed_runs
from backend.app.services.overrides import OverrideInput, create_override
from backend.app.services.secrets import decrypt_secret
from backend.app.services.settings import get_settings
from backend.app.services.tickets import ScopeInput, create_ticket
from tests.fakes.cove_server import (
    DEFAULT_REFERENCE_AT,
    SECURITY_ERROR_CODE,
    CoveFake,
    running_cove_fake,
)

from ..factories import make_customer, make_job, make_run, make_user

NOW = DEFAULT_REFERENCE_AT + timedelta(minutes=30)
FIRST_ID = 1_000_001


@pytest.fixture
def fake() -> Iterator[CoveFake]:
    with running_cove_fake(accounts=600, seed=3) as running:
        yield running


def configure(fake: CoveFake, *, enabled: bool = True, import_enabled: bool = True, offline: bool = False,
              password: str | None = None) -> None:
    settings = fake.client_settings()
    update_cove_settings(make_user("admin"), CoveSettingsInput(
        enabled=enabled, api_url=settings["api_url"], username=settings["username"],
        password=password or settings["password"], import_enabled=import_enabled, interval_minutes=30,
        offline_detection_enabled=offline, offline_warning_days=3, offline_failed_days=7))
    db.session.commit()


def client_factory(fake: CoveFake, **options):
    def factory() -> CoveClient:
        settings = get_settings()
        return CoveClient(api_url=settings.cove_api_url, username=settings.cove_api_username,
                          password=decrypt_secret(settings.cove_api_password_encrypted), session=fake.session(),
                          sleep=lambda _s: None, **{"timeout": 5.0, **options})

    return factory


def run_pass(fake: CoveFake, now_at: datetime = NOW, *, page_size: int = 250, force: bool = True, **options):
    return cove_import.run_once(now_at, force=force, client_factory=client_factory(fake, **options),
                                page_size=page_size)


def account(account_id: int) -> CoveAccount:
    return db.session.scalar(select(CoveAccount).where(CoveAccount.account_id == account_id))


def runs_of(job: Job) -> list[JobRun]:
    return list(db.session.scalars(select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.run_at, JobRun.id)))


def create_job(account_id: int, customer=None) -> Job:
    result = create_job_for_cove_account(make_user("operator"), account(account_id), customer or make_customer(),
                                         NOW)
    db.session.commit()
    return result.job


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# ---- staging and paging -----------------------------------------------------------------------


def test_pass_pages_through_every_account_and_stages_each_once(app, fake):
    configure(fake)
    summary = run_pass(fake, page_size=250)
    assert summary.accounts == 600 and summary.new_accounts == 600 and not summary.errors
    pages = fake.calls_of("EnumerateAccountStatistics")
    assert [call.query["StartRecordNumber"] for call in pages] == [0, 250, 500]
    assert all(call.query["RecordsCount"] == 250 for call in pages)
    assert count(CoveAccount) == 600

    first = fake.account(FIRST_ID + 20)
    row = account(FIRST_ID + 20)
    fields = cm.account_fields(_as_requested(first))
    assert row.account_name == fields.account_name and row.customer_name == fields.customer_name
    assert row.computer_name == fields.computer_name and row.account_type == fields.account_type
    assert row.last_status_code == fields.last_status.code and row.last_run_at == fields.last_run_at
    assert row.colorbar_28d == fields.colour_bar and row.job_id is None
    assert row.first_seen_at == row.last_seen_at == NOW

    task = db.session.get(BackgroundTask, "cove_import")
    assert task.last_status == "ok" and task.lease_holder is None and "600 account(s) (600 new" in task.last_summary
    audit = db.session.scalar(select(AuditLog).where(AuditLog.event_type == "cove_import"))
    assert audit.message.startswith("Cove import: 600 account(s)")
    assert get_settings().cove_partner_id == fake.partner_id

    # A second pass changes nothing but the moment each account was last seen.
    later = NOW + timedelta(minutes=30)
    again = run_pass(fake, later)
    assert (again.accounts, again.new_accounts, again.changed_accounts) == (600, 0, 0)
    db.session.expire_all()
    assert count(CoveAccount) == 600
    assert account(FIRST_ID + 20).last_seen_at == later and account(FIRST_ID + 20).first_seen_at == NOW


def _as_requested(fake_account) -> dict[str, str]:
    """The account's values under the column codes the import requests (as Cove answers them)."""
    from tests.fakes.cove_server import canonical_column

    return {code: fake_account.settings[canonical_column(code)] for code in cm.DEFAULT_COLUMNS
            if canonical_column(code) in fake_account.settings}


def test_a_changed_account_is_updated_and_a_new_one_added(app, fake):
    configure(fake)
    run_pass(fake)
    at = fake.advance_session(FIRST_ID + 30, status=2)
    fake.add_account({"I1": "late-device", "I18": "LATE-01", "I8": "Customer 001", "I32": "2", "I78": "D01"},
                     account_id=2_000_000)
    summary = run_pass(fake, NOW + timedelta(hours=1))
    assert (summary.new_accounts, summary.changed_accounts) == (1, 1)
    db.session.expire_all()
    assert account(FIRST_ID + 30).last_run_at == at and account(FIRST_ID + 30).last_status_code == 2
    late = account(2_000_000)
    assert late.account_name == "late-device" and late.last_run_at is None and late.last_status_code is None


# ---- runs of linked accounts --------------------------------------------------------------------


def test_linking_imports_the_last_session_at_once_and_passes_add_each_session_once(app, fake):
    configure(fake)
    run_pass(fake)
    server_id = next(a.account_id for a in fake.accounts()[13:] if a.get("I32") == "2" and a.get("D10F0")
                     and a.get("D9F15"))
    job = create_job(server_id)
    assert job.backup_software == "Cove Data Protection" and job.cove_account_id == server_id
    assert job.backup_type == "Server" and job.job_name == fake.account(server_id).get("I1")
    assert account(server_id).job_id == job.id
    runs = runs_of(job)
    stats = _as_requested(fake.account(server_id))
    assert len(runs) == 1 and runs[0].external_id == cm.external_id_for(server_id, stats)
    assert runs[0].source_type == "cove_api" and runs[0].run_at == cm.run_for(server_id, stats).run_at

    # Passes without a new session add nothing; a new session adds exactly one run.
    assert run_pass(fake, NOW + timedelta(hours=1)).runs_created == 0
    at = fake.advance_session(server_id, status=8, datasource_statuses={1: 5, 10: 2})
    summary = run_pass(fake, NOW + timedelta(hours=2))
    assert summary.runs_created == 1 and summary.linked_accounts == 1
    assert run_pass(fake, NOW + timedelta(hours=3)).runs_created == 0
    runs = runs_of(job)
    assert len(runs) == 2 and len({r.external_id for r in runs}) == 2
    newest = runs[-1]
    assert newest.run_at == at and newest.status == "warning" and newest.external_id == f"cove-{server_id}-" \
        f"{int(at.timestamp())}"
    assert newest.message.startswith("Completed with errors (8)")

    # The remark summarises account, computer, customer and the last status.
    fake_account = fake.account(server_id)
    for text in (fake_account.get("I1"), fake_account.get("I8"), "Last status: Completed with errors (8)"):
        assert text in newest.remark
    if fake_account.get("I18"):
        assert fake_account.get("I18") in newest.remark

    # One object per data source, with its status, readable details and its own session time.
    links = {link.customer_object.name: link for link in db.session.scalars(
        select(RunObjectLink).where(RunObjectLink.job_run_id == newest.id))}
    assert links["Files and Folders"].status == "success" and links["MS SQL"].status == "failed"
    assert links["MS SQL"].error_message.startswith("Failed (2)") and "; last session " in links["MS SQL"].error_message
    assert links["MS SQL"].customer_object.object_type == "Data source"
    assert links["MS SQL"].observed_at == at
    job_links = {link.customer_object.name: link for link in db.session.scalars(
        select(JobObjectLink).where(JobObjectLink.job_id == job.id))}
    assert job_links["MS SQL"].last_status == "failed" and job_links["MS SQL"].last_seen_at == at


@pytest.mark.parametrize(("code", "expected"), [
    (1, "warning"), (2, "failed"), (3, "failed"), (4, "warning"), (5, "success"), (6, "failed"), (7, "warning"),
    (8, "warning"), (9, "warning"), (10, "failed"), (11, "warning"), (12, "warning"),
])
def test_every_status_code_maps_as_the_seeds_say(app, fake, code, expected):
    # The fake's first thirteen accounts carry status codes 0-12 in order.
    configure(fake)
    run_pass(fake)
    job = create_job(FIRST_ID + code)
    (run,) = runs_of(job)
    assert run.status == expected and run.effective_status == expected
    assert account(FIRST_ID + code).last_status_code == code


def test_an_account_that_never_backed_up_gets_no_run(app, fake):
    configure(fake)
    run_pass(fake)
    job = create_job(FIRST_ID)  # status 0: no session at all
    assert runs_of(job) == []
    assert run_pass(fake, NOW + timedelta(hours=1)).runs_created == 0
    fake.advance_session(FIRST_ID, status=5)
    assert run_pass(fake, NOW + timedelta(hours=2)).runs_created == 1
    assert [r.status for r in runs_of(job)] == ["success"]


def test_relinking_to_another_job_does_not_collide_and_relinking_back_adds_no_duplicate(app, fake):
    configure(fake)
    run_pass(fake)
    account_id = FIRST_ID + 5
    operator = make_user("operator")
    first = create_job(account_id)
    assert len(runs_of(first)) == 1
    unlink_cove_account(operator, account(account_id))
    db.session.commit()
    assert first.cove_account_id is None and account(account_id).job_id is None
    assert len(runs_of(first)) == 1  # the job keeps its runs
    unmatched = db.session.scalars(accounts_query(matched=False)).all()
    assert account(account_id) in unmatched

    second = make_job(make_customer(), job_name="Other job", backup_software="Cove Data Protection",
                      backup_type="Server", from_address=None)
    result = link_cove_account(operator, account(account_id), second, NOW)
    db.session.commit()
    assert len(result.runs) == 1 and result.runs[0].external_id == runs_of(first)[0].external_id
    assert run_pass(fake, NOW + timedelta(hours=1)).runs_created == 0

    unlink_cove_account(operator, account(account_id))
    link_cove_account(operator, account(account_id), first, NOW)
    db.session.commit()
    assert len(runs_of(first)) == 1 and len(runs_of(second)) == 1
    assert run_pass(fake, NOW + timedelta(hours=2)).runs_created == 0
    assert len(runs_of(first)) == 1


def test_links_are_refused_when_either_side_is_taken(app, fake):
    configure(fake)
    run_pass(fake)
    operator = make_user("operator")
    job = create_job(FIRST_ID + 5)
    other = make_job(make_customer(), job_name="Free job")
    with pytest.raises(CoveAccountError, match="already linked to job"):
        link_cove_account(operator, account(FIRST_ID + 5), other, NOW)
    with pytest.raises(CoveAccountError, match="already linked to Cove account"):
        link_cove_account(operator, account(FIRST_ID + 6), job, NOW)
    with pytest.raises(CoveAccountError, match="not linked"):
        unlink_cove_account(operator, account(FIRST_ID + 6))


def test_a_job_name_taken_elsewhere_gets_the_account_id(app, fake):
    configure(fake)
    run_pass(fake)
    name = account(FIRST_ID + 5).account_name
    make_job(make_customer(), job_name=name, backup_software="Cove Data Protection",
             backup_type=account(FIRST_ID + 5).account_type, from_address=None)
    job = create_job(FIRST_ID + 5)
    assert job.job_name == f"{name} (Cove {FIRST_ID + 5})"


def test_a_link_made_in_job_settings_is_picked_up_by_the_pass(app, fake):
    """Job.cove_account_id is the link (it travels with an installation export): the pass follows it."""
    configure(fake)
    job = make_job(make_customer(), job_name="Imported", backup_software="Cove Data Protection",
                   backup_type="Server", from_address=None, cove_account_id=FIRST_ID + 5)
    db.session.commit()
    summary = run_pass(fake)
    assert summary.linked_accounts == 1 and summary.runs_created == 1
    assert account(FIRST_ID + 5).job_id == job.id
    # A soft-deleted job frees the account.
    job.deleted_at = NOW
    db.session.commit()
    run_pass(fake, NOW + timedelta(hours=1))
    db.session.expire_all()
    assert account(FIRST_ID + 5).job_id is None


def test_new_runs_get_overrides_and_open_tickets(app, fake):
    configure(fake)
    run_pass(fake)
    account_id = next(a.account_id for a in fake.accounts()[13:] if a.get("D1F0") and a.get("D9F15"))
    job = create_job(account_id)
    ticket = create_ticket(make_user("operator"), code=None, description="Known problem",
                           scope=ScopeInput(scope_type="job", job_id=job.id))
    create_override(make_user("operator"), OverrideInput(
        level="object", job_id=job.id, object_name="Files and Folders", backup_software=None, backup_type=None,
        status_match="failed", error_text=None, error_match="contains", valid_from=None, valid_until=None,
        active=True, comment="Known problem"))
    db.session.commit()
    sources = {int(code[1:-2]) for code in fake.account(account_id).settings
               if code.endswith("F0") and code != "D9F0"}
    fake.advance_session(account_id, status=2, datasource_statuses={**dict.fromkeys(sources, 5), 1: 2})
    run_pass(fake, NOW + timedelta(hours=1))
    newest = runs_of(job)[-1]
    assert newest.status == "failed"
    assert [link.customer_object.name for link in newest.object_links if link.status == "failed"] == [
        "Files and Folders"]
    # The only failing data source is accepted by the override, so the run counts as a success.
    assert newest.effective_status == "success" and newest.override_id is not None
    assert db.session.scalar(select(TicketJobRun).where(TicketJobRun.job_run_id == newest.id,
                                                        TicketJobRun.ticket_id == ticket.id)) is not None


# ---- errors -------------------------------------------------------------------------------------


def test_wrong_credentials_are_reported_and_nothing_is_lost(app, fake):
    configure(fake)
    run_pass(fake)
    configure(fake, password="not-the-password")
    summary = run_pass(fake, NOW + timedelta(hours=1))
    assert summary.accounts == 0 and "bad password" in summary.errors[0]
    task = db.session.get(BackgroundTask, "cove_import")
    assert task.last_status == "error" and "bad password" in task.last_error
    failed = db.session.scalar(select(AuditLog).where(AuditLog.event_type == "cove_import_failed"))
    assert "Cove Login error -32603" in failed.message
    assert count(CoveAccount) == 600


def test_a_jsonrpc_error_halfway_keeps_the_pages_already_read(app, fake):
    configure(fake)
    # The second page fails twice: once, and again after the client logs in afresh.
    fake.error_next(SECURITY_ERROR_CODE, "Operation failed because of security reasons (error 13501)", count=2,
                    method="EnumerateAccountStatistics", after=1)
    summary = run_pass(fake)
    assert summary.accounts == 250 and "error 13501" in summary.errors[0]
    assert count(CoveAccount) == 250
    assert db.session.get(BackgroundTask, "cove_import").last_status == "error"
    # The next pass reads everything.
    assert run_pass(fake, NOW + timedelta(hours=1)).new_accounts == 350


def test_a_timeout_is_reported_with_what_was_read(app, fake):
    configure(fake)
    fake.slow_next(1.5, count=1, after=2)  # login and the first page answer promptly
    summary = run_pass(fake, timeout=0.5, max_attempts=1)
    assert summary.accounts == 250 and "no answer within 0.5 s" in summary.errors[0]
    assert count(CoveAccount) == 250


def test_an_unreadable_account_does_not_stop_the_others(app, fake):
    configure(fake)
    run_pass(fake)
    broken, fine = FIRST_ID + 20, FIRST_ID + 21
    jobs = {account_id: create_job(account_id) for account_id in (broken, fine)}
    fake.advance_session(fine, status=5)
    fake.set_column(broken, "D9F15", "99999999999999999")  # a session time no calendar holds
    summary = run_pass(fake, NOW + timedelta(hours=1))
    assert summary.runs_created == 1 and len(summary.errors) == 1 and f"account {broken}" in summary.errors[0]
    assert len(runs_of(jobs[fine])) == 2 and len(runs_of(jobs[broken])) == 1
    db.session.expire_all()
    assert account(broken).last_run_at is None  # still staged, with what could be read
    assert db.session.get(BackgroundTask, "cove_import").last_status == "error"


def test_a_page_that_cannot_be_stored_whole_is_stored_account_by_account(app, fake):
    configure(fake)
    job = make_job(make_customer(), job_name="Gone soon", cove_account_id=FIRST_ID + 1)
    db.session.commit()
    context = start_import(NOW)
    assert context.links == {FIRST_ID + 1: job.id}
    # The job is removed for good after the pass read its links: that account's row cannot point to it.
    db.session.delete(job)
    db.session.flush()
    client = client_factory(fake)()
    page = list(itertools.islice(client.enumerate_account_statistics(cm.DEFAULT_COLUMNS, page_size=50), 50))
    summary = CoveImportSummary()
    import_accounts(page, context, summary)
    assert summary.new_accounts == 49 and len(summary.errors) == 1 and f"account {FIRST_ID + 1}" in summary.errors[0]
    assert count(CoveAccount) == 49


# ---- the pass around it -------------------------------------------------------------------------


def test_disabled_not_due_and_leased_passes_do_nothing(app, fake):
    configure(fake, enabled=False)
    assert run_pass(fake, force=False) is None
    forced = run_pass(fake, force=True)
    assert forced.accounts == 0 and "not enabled" in forced.errors[0]
    configure(fake, enabled=True, import_enabled=False)
    assert run_pass(fake, NOW + timedelta(hours=1), force=False) is None
    configure(fake)
    assert run_pass(fake, NOW + timedelta(hours=1), force=False).accounts == 600
    assert run_pass(fake, NOW + timedelta(hours=1, minutes=10), force=False) is None  # every 30 minutes
    assert run_pass(fake, NOW + timedelta(hours=1, minutes=31), force=False) is not None
    # Another instance holds the lease: single flight, even when forced.
    assert claim_task("cove_import", "other-host:1:1", NOW + timedelta(hours=2), timedelta(minutes=15))
    db.session.commit()
    calls = len(fake.calls)
    assert run_pass(fake, NOW + timedelta(hours=2, minutes=1)) is None
    assert len(fake.calls) == calls


def test_the_runner_knows_the_pass(app):
    from backend.app.jobs.runner import default_passes

    assert ("cove_import", cove_import.run_once) in default_passes()


# ---- workstations -------------------------------------------------------------------------------

AMS = ZoneInfo("Europe/Amsterdam")
MISSED_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=AMS).astimezone(UTC)


@pytest.mark.parametrize(("backup_type", "missed"), [("Workstation", 0), ("Server", 1)])
def test_cove_workstations_take_no_part_in_missed_runs(app, backup_type, missed):
    job = make_job(make_customer(), job_name=f"{backup_type} device", backup_software="Cove Data Protection",
                   backup_type=backup_type, from_address=None, cove_account_id=4242)
    today = MISSED_NOW.astimezone(AMS).date()
    for offset in range(40, 1, -1):  # nightly at 22:00, nothing last night
        make_run(job, run_at=datetime.combine(today - timedelta(days=offset), time(22, 0), tzinfo=AMS).astimezone(UTC),
                 source_type="cove_api", external_id=f"cove-4242-{offset}")
    ensure_missed_runs(MISSED_NOW, [job.id])
    job.schedule_expected_since_at = MISSED_NOW - timedelta(days=30)
    assert ensure_missed_runs(MISSED_NOW, [job.id]).missed_created == missed


def _go_offline(fake: CoveFake, account_id: int, days: int) -> None:
    """The device's last session ``days`` days before the bar's last day; the bar ends with that many empty days."""
    session_at = DEFAULT_REFERENCE_AT - timedelta(days=days, hours=2)
    fake.set_column(account_id, "D9F15", int(session_at.timestamp()))
    fake.set_column(account_id, "D9F0", 5)
    fake.set_column(account_id, "D9F8", ("5" * 28 + "0" * days)[-28:])


def test_offline_workstations_get_one_warning_then_one_failed_run(app, fake):
    configure(fake, offline=True)
    workstation = next(a.account_id for a in fake.accounts()[13:] if a.get("I32") == "1" and a.get("D9F15"))
    server = next(a.account_id for a in fake.accounts()[13:] if a.get("I32") == "2" and a.get("D9F15"))
    _go_offline(fake, workstation, 4)
    _go_offline(fake, server, 4)
    run_pass(fake)
    ws_job, server_job = create_job(workstation), create_job(server)
    assert job_statuses(ws_job) == ["success", "warning"]
    offline_run = runs_of(ws_job)[-1]
    assert offline_run.external_id.startswith(f"cove-{workstation}-offline-warning-")
    assert "No Cove backup for 4 days" in offline_run.message
    assert job_statuses(server_job) == ["success"]  # servers have missed runs instead

    assert run_pass(fake, NOW + timedelta(hours=1)).offline_runs == 0
    fake.set_column(workstation, "D9F8", "5" * 20 + "0" * 8)  # four more days without a session
    summary = run_pass(fake, NOW + timedelta(days=4))
    assert summary.offline_runs == 1 and summary.runs_created == 0
    assert job_statuses(ws_job) == ["success", "warning", "failed"]
    assert runs_of(ws_job)[-1].external_id.startswith(f"cove-{workstation}-offline-failed-")
    assert run_pass(fake, NOW + timedelta(days=4, hours=1)).offline_runs == 0

    # Back online: a normal run, and no more offline runs.
    fake.advance_session(workstation, status=5, at=DEFAULT_REFERENCE_AT + timedelta(days=5))
    summary = run_pass(fake, NOW + timedelta(days=5))
    assert summary.runs_created == 1 and summary.offline_runs == 0


def job_statuses(job: Job) -> list[str]:
    return [run.status for run in db.session.scalars(
        select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.id))]


def test_offline_detection_is_off_by_default(app, fake):
    configure(fake)
    workstation = next(a.account_id for a in fake.accounts()[13:] if a.get("I32") == "1" and a.get("D9F15"))
    _go_offline(fake, workstation, 10)
    run_pass(fake)
    job = create_job(workstation)
    assert job_statuses(job) == ["success"]


def test_days_offline_reads_the_colour_bar():
    def fields(bar: str | None, last_at: datetime | None):
        stats = {"D09F08": bar} if bar else {}
        if last_at:
            stats["D09F15"] = str(int(last_at.timestamp()))
        return cm.account_fields(stats)

    assert days_offline(fields("5" * 25 + "000", NOW - timedelta(days=3)), NOW) == 3
    assert days_offline(fields("5" * 28, NOW - timedelta(hours=5)), NOW) == 0
    assert days_offline(fields("0" * 28, NOW - timedelta(days=40)), NOW) == 40
    assert days_offline(fields("0" * 28, NOW - timedelta(days=2)), NOW) == 28
    assert days_offline(fields(None, NOW - timedelta(days=6)), NOW) == 6
    assert days_offline(fields("0" * 28, None), NOW) is None
