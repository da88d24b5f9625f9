"""Cove import benchmark: N accounts from the fake Cove server into PostgreSQL, some linked to jobs.

Before the first pass, every fifth account (2,000 of 10,000 by default) gets a job with its
``cove_account_id``, as an imported installation would have. The first pass stages every account
and creates the linked accounts' runs with their data-source objects; the second pass finds nothing
new (no new Cove session) and creates no run; the third comes after every device backed up once
more, as the first pass of a morning does. The fake runs in a child process, so the CPU time
printed is ours alone (client, mapping, database work).

    python bench/cove_import.py [--accounts 10000] [--linked-every 5] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.fakes

import requests  # noqa: E402
from _pg import bench_app, fresh_database  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from backend.app.clients.cove import CoveClient  # noqa: E402
from backend.app.extensions import db  # noqa: E402
from backend.app.jobs import cove_import  # noqa: E402
from backend.app.models import (  # noqa: E402
    BackgroundTask,
    CoveAccount,
    Customer,
    Job,
    JobRun,
    RunObjectLink,
    job_identity_key,
)
from backend.app.services.cove_settings import CoveSettingsInput, update_cove_settings  # noqa: E402

SOFTWARE = "Cove Data Protection"


def serve_fake(accounts: int, seed: int, queue, commands) -> None:
    from tests.fakes.cove_server import running_cove_fake

    with running_cove_fake(accounts=accounts, seed=seed) as fake:
        queue.put((fake.client_settings(), [a.account_id for a in fake.accounts()],
                   fake.reference_at))
        while (command := commands.get()) != "stop":
            if command == "night":  # every device backs up once more
                for account in fake.accounts():
                    fake.advance_session(account.account_id, status=5)
                queue.put("done")


def link_jobs(account_ids: list[int], every: int) -> int:
    """One job per ``every``-th account, spread over customers of 20 jobs each."""
    linked = account_ids[::every]
    customers = [{"name": f"Bench customer {i:04d}", "active": True} for i in range(len(linked) // 20 + 1)]
    customer_ids = list(db.session.scalars(insert(Customer).returning(Customer.id), customers))
    now = datetime.now(UTC)
    rows = []
    for index, account_id in enumerate(linked):
        name = f"bench-{account_id}"
        rows.append({"customer_id": customer_ids[index // 20], "from_address": None, "backup_software": SOFTWARE,
                     "backup_type": "Server", "job_name": name, "cove_account_id": account_id,
                     "identity_key": job_identity_key(None, SOFTWARE, "Server", name), "informational": False,
                     "schedule_mode": "learned", "created_at": now, "updated_at": now})
    db.session.execute(insert(Job), rows)
    db.session.commit()
    return len(linked)


def timed_pass(factory, now_at: datetime, profile: str | None = None):
    profiler = cProfile.Profile() if profile else None
    started_at = datetime.now(UTC)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    summary = cove_import.run_once(now_at, force=True, client_factory=factory)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    task = db.session.get(BackgroundTask, cove_import.TASK_NAME)
    # The lease is released (last_finished_at, real time) before the pass starts the missed-run check.
    import_wall = (task.last_finished_at - started_at).total_seconds()
    return summary, wall, cpu, import_wall


def report(label: str, summary, wall: float, cpu: float, import_wall: float) -> None:
    print(f"{label}:")
    print(f"  summary:               {summary.text()}")
    print(f"  total time:            {wall:.2f} s wall, {cpu:.2f} s CPU (ours)")
    print(f"  import pass alone:     {import_wall:.2f} s (until the lease is released; the rest is the "
          f"missed-run check a pass starts when it created runs)")
    print(f"  accounts per second:   {summary.accounts / import_wall:,.0f}")
    print(f"  runs created:          {summary.runs_created}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--linked-every", type=int, default=5, help="Link every Nth account to a job (default 5).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/bc_bench_cove")
    parser.add_argument("--profile", metavar="FILE", help="Write a cProfile of one pass to FILE.")
    parser.add_argument("--profile-pass", type=int, default=1, choices=(1, 2, 3), help="The pass to profile.")
    args = parser.parse_args()

    queue = multiprocessing.Queue()
    commands = multiprocessing.Queue()
    fake_process = multiprocessing.Process(target=serve_fake, args=(args.accounts, args.seed, queue, commands))
    fake_process.start()
    try:
        settings, account_ids, reference_at = queue.get(timeout=600)
        app = bench_app(fresh_database(args.database_url))
        session = requests.Session()
        session.trust_env = False
        with app.app_context():
            update_cove_settings(None, CoveSettingsInput(
                enabled=True, api_url=settings["api_url"], username=settings["username"],
                password=settings["password"], import_enabled=True, interval_minutes=30))
            linked = link_jobs(account_ids, args.linked_every)

            def factory() -> CoveClient:
                return CoveClient(session=session, **settings)

            now_at = reference_at + timedelta(minutes=30)
            print(f"{args.accounts:,} accounts in the fake, {linked:,} linked to jobs; PostgreSQL {args.database_url}")
            profile = {number: args.profile if args.profile_pass == number else None for number in (1, 2, 3)}
            first = timed_pass(factory, now_at, profile[1])
            runs = db.session.scalar(select(func.count(JobRun.id)).where(JobRun.source_type == "cove_api"))
            objects = db.session.scalar(select(func.count(RunObjectLink.id)))
            staged = db.session.scalar(select(func.count(CoveAccount.id)))
            report("first import", *first)
            print(f"  in the database:       {staged:,} cove_accounts rows, {runs:,} Cove runs, "
                  f"{objects:,} run objects")
            second = timed_pass(factory, now_at + timedelta(minutes=30), profile[2])
            report("second import (no new session)", *second)
            runs_after = db.session.scalar(select(func.count(JobRun.id)).where(JobRun.source_type == "cove_api"))
            print(f"  Cove runs afterwards:  {runs_after:,} (unchanged: {runs_after == runs})")
            commands.put("night")
            queue.get(timeout=600)
            third = timed_pass(factory, now_at + timedelta(days=1), profile[3])
            report("third import (a night later: every account has a new session)", *third)
        session.close()
    finally:
        commands.put("stop")
        fake_process.join(timeout=30)


if __name__ == "__main__":
    main()
