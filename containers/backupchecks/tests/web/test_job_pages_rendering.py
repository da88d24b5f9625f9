"""What Daily Jobs and Job details show, pinned down exactly: both pages read plain rows (not ORM
entities) and precompute parts of their markup for speed (bench/pages.py), so these tests hold every
field each page renders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.app.extensions import db
from backend.app.models import CustomerObject, JobObjectLink, Override
from backend.app.services.job_schedules import learn_job_schedule

from ..factories import make_customer, make_job, make_run, make_user

AMS = ZoneInfo("Europe/Amsterdam")


def _row_html(page: str, job_id: int) -> str:
    return page.split(f'data-job-id="{job_id}"')[1].split("</tr>")[0]


def _status_of(page: str, job_id: int) -> str:
    return _row_html(page, job_id).split('class="day-status" data-status="')[1].split('"')[0]


def _job_ids(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="daily-row" data-job-id="(\d+)"', page)]


def _counts(page: str) -> dict[str, int]:
    block = page.split('id="day-counts"')[1].split("</div>")[0]
    return {status: int(n) for status, n in
            re.findall(r'data-status="(\w+)">[^<]*<span class="badge text-bg-light">(\d+)</span>', block)}


def _daily_history(job, days: int, at: time, until: date) -> None:
    for offset in range(days, 0, -1):
        make_run(job, status="success",
                 run_at=datetime.combine(until - timedelta(days=offset), at, tzinfo=AMS).astimezone(UTC))


def test_daily_jobs_rows_counts_order_and_runs(client, login_as):
    login_as("viewer")
    day = date(2026, 3, 10)
    # Case-insensitive order by customer, then job; casefold (not lower) puts "straße" before "Strasse Z".
    second = make_customer("Strasse Z")
    first = make_customer("straße")
    b_job = make_job(first, job_name="beta")
    a_job = make_job(first, job_name="Alpha")
    other = make_job(second, job_name="Other")
    at = lambda hh, mm: datetime.combine(day, time(hh, mm), tzinfo=AMS).astimezone(UTC)  # noqa: E731
    make_run(a_job, status="success", run_at=at(1, 0))
    make_run(a_job, status="missed", run_at=at(0, 30))
    make_run(a_job, status="warning", run_at=at(23, 10))
    make_run(b_job, status="failed", run_at=at(2, 0))
    make_run(other, status="success", run_at=at(22, 0) - timedelta(days=1))  # the day before: not shown
    db.session.commit()
    page = client.get(f"/daily-jobs?date={day.isoformat()}").get_data(as_text=True)
    ids = _job_ids(page)
    assert ids.index(a_job.id) < ids.index(b_job.id) < ids.index(other.id)
    row = _row_html(page, a_job.id)
    # Runs in time order, local times; the count leaves the missed run out; the worst run wins.
    assert re.sub(r"\s+", " ", row.split('<td class="small">')[3].split("</td>")[0]) == (
        '2 <span title="missed"><span class="badge text-bg-danger">Missed</span></span> 00:30 '
        '<span title="success"><span class="badge text-bg-success">Success</span></span> 01:00 '
        '<span title="warning"><span class="badge text-bg-warning">Warning</span></span> 23:10')
    assert _status_of(page, a_job.id) == "missed" and _status_of(page, b_job.id) == "failed"
    assert _status_of(page, other.id) == "no_schedule" and "—" in _row_html(page, other.id)
    assert "<td>straße</td>" in row and "Veeam · Backup Job" in row
    counts = _counts(page)
    assert counts["missed"] == counts["failed"] == counts["no_schedule"] == 1
    page = client.get(f"/daily-jobs?date={day.isoformat()}&customer_id={second.id}").get_data(as_text=True)
    assert _job_ids(page) == [other.id] and _counts(page)["missed"] == 0


def test_daily_jobs_paused_never_scheduled_and_manual_schedules(client, login_as):
    login_as("operator")
    today = datetime.now(AMS).date()
    day = today - timedelta(days=1)
    customer = make_customer("Modes Co")
    learned = make_job(customer, job_name="Learned")
    paused = make_job(customer, job_name="Paused", paused_until=day)
    none = make_job(customer, job_name="Nothing expected", schedule_mode="none")
    notice = make_job(customer, job_name="Update notice", backup_software="3CX", backup_type="Update")
    informational = make_job(customer, job_name="Info", informational=True)
    for job in (learned, paused, none, notice, informational):
        _daily_history(job, 40, time(3, 0), day)
        learn_job_schedule(job, datetime.now(UTC), AMS)
    db.session.commit()
    page = client.get(f"/daily-jobs?date={day.isoformat()}").get_data(as_text=True)
    assert "03:00" in _row_html(page, learned.id) and _status_of(page, learned.id) == "missed"
    assert 'Paused <span class="badge text-bg-warning">Paused</span>' in _row_html(page, paused.id)
    for job in (paused, none, notice, informational):
        assert _status_of(page, job.id) == "no_schedule", job.job_name
        assert "03:00" not in _row_html(page, job.id)
    # A schedule set by hand replaces the learned one at once (the slot cache follows the job's row).
    client.post(f"/jobs/{learned.id}/schedule", data={"mode": "manual", "kind": "daily", "times": "21:30",
                                                      "tolerance_minutes": "20"})
    page = client.get(f"/daily-jobs?date={day.isoformat()}").get_data(as_text=True)
    assert "21:30" in _row_html(page, learned.id) and "03:00" not in _row_html(page, learned.id)
    page = client.get(f"/daily-jobs?date={(today + timedelta(days=1)).isoformat()}").get_data(as_text=True)
    assert _status_of(page, learned.id) == "expected"
    # A weekly schedule on another weekday: nothing expected on this day.
    other_day = str((day.weekday() + 3) % 7)
    client.post(f"/jobs/{learned.id}/schedule", data={"mode": "manual", "kind": "weekly", "weekdays": [other_day],
                                                      "times": "21:30", "tolerance_minutes": "20"})
    page = client.get(f"/daily-jobs?date={day.isoformat()}").get_data(as_text=True)
    assert _status_of(page, learned.id) == "not_expected"


def test_daily_jobs_pages_and_status_filter(client, login_as):
    login_as("viewer")
    customer = make_customer("Many Co")
    day = date(2026, 5, 4)
    jobs = [make_job(customer, job_name=f"Job {i:02d}") for i in range(55)]
    for job in jobs[:3]:
        make_run(job, status="failed", run_at=datetime.combine(day, time(2, 0), tzinfo=AMS).astimezone(UTC))
    db.session.commit()
    base = f"/daily-jobs?date={day.isoformat()}&customer_id={customer.id}"
    first = client.get(base).get_data(as_text=True)
    second = client.get(base + "&page=2").get_data(as_text=True)
    assert _job_ids(first) == [j.id for j in jobs[:50]] and _job_ids(second) == [j.id for j in jobs[50:]]
    assert "Page 2 of 2 · 55 in all" in second
    failed = client.get(base + "&status=failed").get_data(as_text=True)
    assert _job_ids(failed) == [j.id for j in jobs[:3]] and "3 in all" in failed
    assert _counts(failed) == {"failed": 3, "missed": 0, "warning": 0, "success": 0, "expected": 0,
                               "not_expected": 0, "no_schedule": 52}
    assert _job_ids(client.get(base + "&page=9").get_data(as_text=True)) == []


def test_job_detail_runs_objects_overrides_and_bar(client, login_as):
    login_as("viewer")
    reviewer = make_user("operator", username="reviewer1")
    job = make_job(make_customer("Detail Co"), job_name="Detail job")
    override = Override(level="object", job_id=job.id, object_name="VM-01", status_match="warning",
                        error_text="snapshot", error_match="starts", comment="known issue")
    db.session.add_all([override, Override(level="object", job_id=job.id, active=False)])
    db.session.flush()
    now = datetime.now(UTC)
    yesterday = now.astimezone(AMS).date() - timedelta(days=1)
    reviewed = make_run(job, status="warning", run_at=datetime.combine(yesterday, time(10, 5), tzinfo=AMS),
                        message="1 file skipped", remark="disk slow", reviewed_at=now - timedelta(hours=5),
                        reviewed_by_id=reviewer.id)
    overridden = make_run(job, status="failed", effective_status="success", override_id=override.id,
                          run_at=datetime.combine(yesterday, time(11, 30), tzinfo=AMS))
    marked = make_run(job, status="warning", effective_status="success", marked_success_at=now, run_at=now)
    vm = CustomerObject(customer_id=job.customer_id, name="VM-01", object_type="VM")
    db.session.add(vm)
    db.session.flush()
    db.session.add(JobObjectLink(job_id=job.id, customer_object_id=vm.id, last_status="warning",
                                 last_seen_at=now - timedelta(days=1), last_error="snapshot failed"))
    db.session.commit()
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    local = lambda value, fmt="%Y-%m-%d %H:%M": value.astimezone(AMS).strftime(fmt)  # noqa: E731
    rows = page.split('id="runs-table"')[1].split("</tbody>")[0].split("<tr>")[2:]
    assert [r.split('<td class="text-nowrap">')[1].split("<")[0] for r in rows] == [
        local(marked.run_at), local(overridden.run_at), local(reviewed.run_at)]
    assert ('<span class="badge text-bg-primary" title="Reported: warning · marked as success">'
            'Success (override)</span>') in rows[0]
    assert f'title="Reported: failed · override #{override.id}">Success (override)</span>' in rows[1]
    assert '<span class="badge text-bg-warning">Warning</span>' in rows[2]
    assert f'<span class="text-success" title="Reviewed {local(reviewed.reviewed_at)} by reviewer1">✓</span>' \
        in rows[2]
    assert '<td class="small">1 file skipped</td>' in rows[2] and '<td class="small">disk slow</td>' in rows[2]
    assert f"{local(reviewed.reviewed_at)} · reviewer1</td>" in rows[2]
    objects = page.split('id="objects-table"')[1].split("</tbody>")[0]
    assert "<tr><td>VM-01</td><td>VM</td>" in objects and "text-bg-warning" in objects
    assert f">{local(now - timedelta(days=1))}</td>" in objects and "snapshot failed" in objects
    overrides = re.sub(r"\s+", " ", page.split('id="job-overrides"')[1].split("</ul>")[0])
    assert f"#{override.id}</a>: VM-01, warning, error starts “snapshot” — known issue</li>" in overrides
    assert "(inactive): whole job, any status</li>" in overrides
    cells = re.findall(r'data-status="(\w+)" data-bs-toggle="tooltip" data-bs-html="false"\s+title="([^"]*)"', page)
    assert len(cells) == 28
    assert cells[-2] == ("warning", f"{yesterday:%a %d %b}: 10:05 warning, 11:30 success")
    assert cells[0] == ("none", f"{yesterday - timedelta(days=26):%a %d %b}: no runs")


def test_job_detail_pages_its_runs(client, login_as):
    login_as("viewer")
    job = make_job(make_customer("Pages Co"), job_name="Paged job")
    start = datetime(2026, 1, 1, 21, 0, tzinfo=UTC)
    for i in range(30):
        make_run(job, status="success", run_at=start + timedelta(days=i))
    db.session.commit()
    first = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    second = client.get(f"/jobs/{job.id}?page=2").get_data(as_text=True)
    assert "Page 1 of 2 · 30 in all" in first and "Page 2 of 2 · 30 in all" in second
    assert first.count('<td class="text-nowrap">') == 25 and second.count('<td class="text-nowrap">') == 5
    assert "2026-01-30 22:00" in first and "2026-01-05 22:00" not in first and "2026-01-05 22:00" in second
