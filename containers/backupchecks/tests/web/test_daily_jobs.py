from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.app.extensions import db
from backend.app.services.job_schedules import learn_job_schedule
from backend.app.services.missed_runs import ensure_missed_runs

from ..factories import make_customer, make_job, make_run

AMS = ZoneInfo("Europe/Amsterdam")


def _history(job, days: int, at: time, until: date, skip: set[date] = frozenset()) -> None:
    for offset in range(days, 0, -1):
        day = until - timedelta(days=offset)
        if day not in skip:
            make_run(job, status="success", run_at=datetime.combine(day, at, tzinfo=AMS).astimezone(UTC))


def _status_of(page: str, job_id: int) -> str:
    return page.split(f'data-job-id="{job_id}"')[1].split('class="day-status" data-status="')[1].split('"')[0]


def test_daily_jobs_shows_each_kind_of_day(client, login_as):
    login_as("viewer")
    today = datetime.now(AMS).date()
    customer = make_customer("Daily Co")
    done = make_job(customer, job_name="Done job")
    failed = make_job(customer, job_name="Failed job")
    unscheduled = make_job(customer, job_name="New job")
    _history(done, 40, time(1, 0), today)
    _history(failed, 40, time(1, 0), today)
    now = datetime.now(UTC)
    yesterday = today - timedelta(days=1)
    make_run(done, status="success", run_at=datetime.combine(yesterday, time(1, 5), tzinfo=AMS).astimezone(UTC))
    make_run(failed, status="failed", run_at=datetime.combine(yesterday, time(1, 5), tzinfo=AMS).astimezone(UTC))
    for job in (done, failed):
        learn_job_schedule(job, now, AMS)
    db.session.commit()
    page = client.get(f"/daily-jobs?date={yesterday.isoformat()}").get_data(as_text=True)
    assert _status_of(page, done.id) == "success" and _status_of(page, failed.id) == "failed"
    assert _status_of(page, unscheduled.id) == "no_schedule"
    assert "01:00" in page.split(f'data-job-id="{done.id}"')[1].split("</tr>")[0]
    tomorrow = today + timedelta(days=1)
    page = client.get(f"/daily-jobs?date={tomorrow.isoformat()}").get_data(as_text=True)
    assert _status_of(page, done.id) == "expected"
    page = client.get(f"/daily-jobs?date={yesterday.isoformat()}&status=failed").get_data(as_text=True)
    assert f'data-job-id="{failed.id}"' in page and f'data-job-id="{done.id}"' not in page
    assert client.get("/daily-jobs?date=yesterday").status_code == 400


def test_a_missed_slot_shows_as_missed_with_or_without_the_pass(client, login_as):
    login_as("viewer")
    today = datetime.now(AMS).date()
    two_days_ago = today - timedelta(days=2)
    job = make_job(make_customer(), job_name="Gap job")
    _history(job, 40, time(3, 0), today, skip={two_days_ago})
    learn_job_schedule(job, datetime.now(UTC), AMS)
    db.session.commit()
    page = client.get(f"/daily-jobs?date={two_days_ago.isoformat()}").get_data(as_text=True)
    assert _status_of(page, job.id) == "missed"
    job.schedule_expected_since_at = datetime.now(UTC) - timedelta(days=30)
    ensure_missed_runs(datetime.now(UTC), [job.id])
    db.session.commit()
    page = client.get(f"/daily-jobs?date={two_days_ago.isoformat()}").get_data(as_text=True)
    assert _status_of(page, job.id) == "missed"


def test_modal_fragment_and_open_job_id(client, login_as):
    login_as("viewer")
    job = make_job(make_customer("Modal Daily"), job_name="Modal daily job")
    run_at = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    make_run(job, status="warning", run_at=run_at, message="1 file skipped")
    db.session.commit()
    fragment = client.get(f"/daily-jobs/{job.id}?date=2026-03-10").get_data(as_text=True)
    assert "1 file skipped" in fragment and 'id="daily-schedule"' in fragment
    page = client.get(f"/daily-jobs?date=2026-03-10&open_job_id={job.id}").get_data(as_text=True)
    assert f'data-open-job-id="{job.id}"' in page and 'data-url-template="/daily-jobs/JOB?date=2026-03-10"' in page


def test_schedule_can_be_set_by_hand_paused_and_cleared(client, login_as):
    login_as("operator")
    job = make_job(make_customer())
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/schedule", data={"mode": "manual", "kind": "weekly", "weekdays": ["0", "3"],
                                                              "times": "21:30", "tolerance_minutes": "20"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "set by hand: Monday and Thursday at 21:30 (± 20 min)" in page and "wins over" in page
    response = client.post(f"/jobs/{job.id}/schedule", data={"mode": "manual", "kind": "weekly", "times": "21:30",
                                                              "tolerance_minutes": "20"}, follow_redirects=True)
    assert "Schedule not saved: a weekly schedule needs at least one weekday" in response.get_data(as_text=True)
    response = client.post(f"/jobs/{job.id}/schedule", data={"mode": "manual", "kind": "monthly", "times": "02:00",
                                                              "days_of_month": "1, last", "tolerance_minutes": "30"},
                           follow_redirects=True)
    assert "set by hand: on day 1 and the last day of the month at 02:00 (± 30 min)" in \
        response.get_data(as_text=True)
    client.post(f"/jobs/{job.id}/pause", data={"paused_until": "2026-12-31"})
    assert job.paused_until == date(2026, 12, 31)
    client.post(f"/jobs/{job.id}/pause", data={"paused_until": ""})
    assert job.paused_until is None
    response = client.post(f"/jobs/{job.id}/schedule", data={"mode": "none", "kind": "daily"}, follow_redirects=True)
    assert "no schedule (set by hand): nothing is expected" in response.get_data(as_text=True)


def test_grace_setting(client, login_as):
    login_as("admin")
    client.post("/settings", data={"ui_timezone": "Europe/Amsterdam", "missed_grace_minutes": "90"})
    from backend.app.services.settings import get_settings

    assert get_settings().missed_grace_minutes == 90
    page = client.post("/settings", data={"ui_timezone": "Europe/Amsterdam", "missed_grace_minutes": "-1"})
    assert "Number must be between 0 and 1440" in page.get_data(as_text=True)


def test_schedule_infer_command(app, tmp_path):
    runs = [datetime.combine(date(2026, 8, 3) + timedelta(days=i), time(22, 0), tzinfo=AMS).isoformat()
            for i in range(60) if (date(2026, 8, 3) + timedelta(days=i)).weekday() < 5]
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(runs))
    result = app.test_cli_runner().invoke(args=["schedule", "infer", str(path), "--tz", "Europe/Amsterdam"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "daily" and data["weekdays"] == [0, 1, 2, 3, 4] and data["times"] == ["22:00"]
    assert set(data) == {"kind", "weekdays", "days_of_month", "nth_weekday", "times", "tolerance_minutes", "runs_used"}
    path.write_text('["not a time"]')
    result = app.test_cli_runner().invoke(args=["schedule", "infer", str(path)])
    assert result.exit_code == 1 and "is not an ISO-8601 timestamp" in result.output
    path.write_text('["2026-08-03T22:00:00"]')
    assert "has no offset" in app.test_cli_runner().invoke(args=["schedule", "infer", str(path)]).output
