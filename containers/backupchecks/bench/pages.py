"""Page benchmark: a large installation on PostgreSQL, and how fast the busiest pages answer.

Fills a fresh database with 100 customers, 2,000 jobs and a year of nightly runs (about 700,000),
plus an Inbox of waiting mails, then requests each page 20 times as an admin and prints the server
time (median and p95) beside the time spent in SQL for the same requests.
Targets (issue 6): every page at most 300 ms at p95, and at most 3 times its SQL time.

    python bench/pages.py [--jobs 2000] [--days 365] [--database-url postgresql://postgres@127.0.0.1:5432/bc_bench_pages]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _pg import bench_app, copy_rows, fresh_database, reset_sequences_and_analyze  # noqa: E402
from sqlalchemy import event  # noqa: E402

from backend.app.extensions import db  # noqa: E402
from backend.app.models import job_identity_key  # noqa: E402
from backend.app.services.schedules import LearnedSchedule  # noqa: E402
from backend.app.services.settings import get_settings  # noqa: E402
from backend.app.services.users import create_user  # noqa: E402

SOFTWARE = [("Veeam", "Backup Job"), ("Synology", "Hyper Backup"), ("NAKIVO", "Backup Job"), ("QNAP", "Backup Job"),
            ("Proxmox VE", "Backup"), ("Acronis Cyber Protect", "Backup"), ("Xen Orchestra", "Backup")]


def fill(jobs: int, days: int, inbox: int, seed: int, now_at: datetime) -> None:
    rng = random.Random(seed)
    raw = db.session.connection().connection.dbapi_connection
    customers = 100
    copy_rows(raw, "customers", ["id", "name", "active", "created_at", "updated_at"],
              ((i, f"Customer {i:03d}", True, now_at, now_at) for i in range(1, customers + 1)))
    job_rows, run_rows, schedules = [], [], {}
    run_id = 0
    for job_id in range(1, jobs + 1):
        software, backup_type = SOFTWARE[job_id % len(SOFTWARE)]
        hour, minute = rng.choice([19, 20, 21, 22, 23, 0, 1, 2, 3]), rng.choice([0, 15, 30, 45])
        weekdays = list(range(7)) if job_id % 4 else [0, 1, 2, 3, 4]
        name = f"Job {job_id:04d}"
        sender = f"backup{job_id % 300}@customer{job_id % customers}.example"
        schedule = LearnedSchedule(kind="daily", weekdays=weekdays, times=[f"{hour:02d}:{minute:02d}"],
                                   tolerance_minutes=30, runs_used=200, since_at=now_at - timedelta(days=days))
        schedules[job_id] = schedule
        job_rows.append((job_id, 1 + job_id % customers, sender, software, backup_type, name,
                         job_identity_key(sender, software, backup_type, name), False, "learned",
                         json.dumps(schedule.to_dict(include_meta=True)), now_at, now_at - timedelta(days=days),
                         now_at, now_at))
        for offset in range(days, -1, -1):
            day = (now_at - timedelta(days=offset)).date()
            if day.weekday() not in weekdays or rng.random() < 0.02:
                continue
            run_at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(
                minutes=rng.randint(-5, 20))
            if run_at > now_at:
                continue
            run_id += 1
            roll = rng.random()
            status = "success" if roll < 0.9 else "warning" if roll < 0.96 else "failed"
            reviewed = run_at if offset > 2 else None
            run_rows.append((run_id, job_id, run_at, status, status, False, reviewed, now_at))
    copy_rows(raw, "jobs", ["id", "customer_id", "from_address", "backup_software", "backup_type", "job_name",
                            "identity_key", "informational", "schedule_mode", "learned_schedule_json",
                            "schedule_learned_at", "schedule_expected_since_at", "created_at", "updated_at"], job_rows)
    copy_rows(raw, "job_runs", ["id", "job_id", "run_at", "status", "effective_status", "informational",
                                "reviewed_at", "created_at"], run_rows)
    copy_rows(raw, "mail_messages", ["id", "internet_message_id", "from_address", "subject", "text_body",
                                     "received_at", "location", "informational", "backup_software", "job_name",
                                     "overall_status", "parser_key", "created_at"],
              ((i, f"<inbox-{i}@bench.example>", f"nas{i % 50}@unknown{i % 70}.example",
                f"Hyper Backup - Job {i} successful", "body", now_at - timedelta(minutes=i), "inbox", False,
                "Synology", f"Job {i}", "success", "synology_hyper_backup", now_at) for i in range(1, inbox + 1)))
    reset_sequences_and_analyze(raw, ["customers", "jobs", "job_runs", "mail_messages"])
    db.session.commit()
    print(f"filled: 100 customers, {jobs} jobs, {len(run_rows)} runs, {inbox} inbox mails")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--inbox", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/bc_bench_pages")
    parser.add_argument("--reuse", action="store_true", help="Measure the database a previous run filled.")
    args = parser.parse_args()

    url = args.database_url if args.reuse else fresh_database(args.database_url)
    app = bench_app(url)
    now_at = datetime.now(UTC)
    with app.app_context():
        if not args.reuse:
            started = time.perf_counter()
            fill(args.jobs, args.days, args.inbox, args.seed, now_at)
            print(f"fill time: {time.perf_counter() - started:.1f} s")
            create_user(None, "bench", "bench-password-123", ["admin"])
            db.session.commit()
        # A running installation has its settings row (the pollers' first pass stores it); without it every
        # request would insert one and roll it back, work no real installation does.
        get_settings()
        db.session.commit()
        sql_seconds = [0.0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            sql_seconds[0] += time.perf_counter() - conn.info.pop("bench_started")

    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-password-123"})
    pages = [("Run Checks", "/run-checks"), ("Daily Jobs", "/daily-jobs"), ("Job details", "/jobs/1234"),
             ("Inbox", "/inbox"), ("Dashboard", "/dashboard")]
    print(f"{'page':<12} {'median ms':>10} {'p95 ms':>8} {'SQL median ms':>14} {'ratio':>6}"
          "  (target: p95 <= 300, ratio <= 3)")
    for name, url_path in pages:
        client.get(url_path)  # warm caches and the connection pool
        totals, sqls = [], []
        for _ in range(args.requests):
            sql_seconds[0] = 0.0
            started = time.perf_counter()
            response = client.get(url_path)
            totals.append((time.perf_counter() - started) * 1000)
            sqls.append(sql_seconds[0] * 1000)
            assert response.status_code == 200, (url_path, response.status_code)
        p95 = sorted(totals)[max(0, int(round(0.95 * len(totals))) - 1)]
        median, sql_median = statistics.median(totals), statistics.median(sqls)
        print(f"{name:<12} {median:>10.1f} {p95:>8.1f} {sql_median:>14.1f} {median / max(sql_median, 0.001):>6.1f}")


if __name__ == "__main__":
    main()
