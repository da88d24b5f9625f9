"""Linking open tickets and remarks to new runs (seeds: "Where Ticket Linking is Called").

Every code path that creates a run (mail, missed, Cove) calls :func:`link_open_tickets_to_run`, so
the rule holds from the first run on. Tickets and remarks do not exist in this version yet, so
there is nothing open to link and the call returns without a change.
"""

from __future__ import annotations

from ..models import JobRun


def link_open_tickets_to_run(run: JobRun) -> int:
    """Link the tickets and remarks that are open for the run's job; returns how many were linked."""
    return 0


def alerts_for_run(run: JobRun) -> dict[str, list[dict]]:
    """Tickets and remarks for a run, from both sources of the seeds (direct links and the job's
    open scopes), each once. With no tickets or remarks recorded yet, both lists are empty."""
    return {"tickets": [], "remarks": []}
