"""Cove enumeration benchmark: the JSON-RPC client lists N accounts from the fake Cove server.

Only the client is measured (Login plus every EnumerateAccountStatistics page, with the default
import columns); nothing is stored. The fake runs in a child process, so the CPU time printed is
the client's alone.

    python bench/cove_fake_enumerate.py [--accounts 10000] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.fakes

import requests  # noqa: E402

from backend.app.clients.cove import PAGE_SIZE, CoveClient  # noqa: E402
from backend.app.services.cove_mapping import DEFAULT_COLUMNS  # noqa: E402


def serve_fake(accounts: int, seed: int, settings_queue, stop_event) -> None:
    from tests.fakes.cove_server import running_cove_fake

    with running_cove_fake(accounts=accounts, seed=seed) as fake:
        settings_queue.put(fake.client_settings())
        stop_event.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="Enumerations to run; each is timed.")
    args = parser.parse_args()

    settings_queue = multiprocessing.Queue()
    stop_event = multiprocessing.Event()
    fake_process = multiprocessing.Process(
        target=serve_fake, args=(args.accounts, args.seed, settings_queue, stop_event)
    )
    fake_process.start()
    try:
        settings = settings_queue.get(timeout=300)
        print(f"columns per account: {len(DEFAULT_COLUMNS)}; page size {PAGE_SIZE}")
        for round_number in range(1, args.repeat + 1):
            with requests.Session() as session:
                session.trust_env = False
                client = CoveClient(session=session, **settings)
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                count = sum(1 for _ in client.enumerate_account_statistics(DEFAULT_COLUMNS))
                cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
            pages = count // PAGE_SIZE + 1
            print(
                f"round {round_number}: {count} accounts in {wall:.2f} s wall "
                f"({count / wall:,.0f} accounts/s, {pages} pages + login), client CPU {cpu:.2f} s"
            )
    finally:
        stop_event.set()
        fake_process.join(timeout=30)


if __name__ == "__main__":
    main()
