"""What happens to every new run, whatever created it (mail, missed, Cove): overrides and tickets."""

from __future__ import annotations

from ..models import Job, JobRun
from .overrides import apply_overrides_to_new_run
from .tickets import link_open_tickets_to_run


def finish_new_run(job: Job, run: JobRun) -> None:
    """Call once the run and its objects are flushed."""
    apply_overrides_to_new_run(run, job)
    link_open_tickets_to_run(run)
