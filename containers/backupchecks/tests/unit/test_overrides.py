from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.app.extensions import db
from backend.app.models import CustomerObject, RunObjectLink
from backend.app.services.overrides import (
    OverrideError,
    OverrideInput,
    create_override,
    delete_override,
    run_problems,
    update_override,
)
from backend.app.services.reviews import mark_run_success, review_runs
from backend.app.services.runs import finish_new_run

from ..factories import make_customer, make_job, make_run, make_user

RUN_AT = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 22:30 on the 20th in Amsterdam


def _input(**changes) -> OverrideInput:
    values = dict(level="global", job_id=None, object_name=None, backup_software=None, backup_type=None,
                  status_match=None, error_text=None, error_match="contains", valid_from=None, valid_until=None,
                  active=True, comment=None)
    values.update(changes)
    return OverrideInput(**values)


def _run(job, status="failed", message="Target storage is full", objects=()):
    run = make_run(job, status=status, run_at=RUN_AT, message=message)
    for name, obj_status, error in objects:
        obj = CustomerObject(customer_id=job.customer_id, name=name, object_type="VM")
        db.session.add(obj)
        db.session.flush()
        db.session.add(RunObjectLink(job_run_id=run.id, customer_object_id=obj.id, status=obj_status,
                                     error_message=error))
    db.session.flush()
    db.session.refresh(run)
    finish_new_run(job, run)
    return run


@pytest.mark.parametrize(("match", "text", "covered"), [
    ("contains", "storage IS FULL", True),
    ("contains", "network", False),
    ("exact", "Target storage is full", True),
    ("exact", "target storage is full", False),
    ("starts", "Target storage", True),
    ("starts", "storage", False),
    ("ends", "is full", True),
    ("ends", "Target", False),
])
def test_error_text_match_types(app, match, text, covered):
    job = make_job(make_customer())
    run = _run(job)
    create_override(make_user("operator"), _input(backup_software="Veeam", error_text=text, error_match=match))
    assert run.effective_status == ("success" if covered else "failed")
    assert (run.override_id is not None) == covered


def test_blank_criteria_match_anything_but_a_global_rule_needs_one(app):
    job = make_job(make_customer(), backup_software="Synology", backup_type="Hyper Backup")
    run = _run(job)
    with pytest.raises(OverrideError, match="at least one criterion"):
        create_override(make_user("admin"), _input())
    create_override(make_user("admin"), _input(backup_type="hyper backup"))  # software blank, type case-insensitive
    assert run.effective_status == "success"


def test_status_and_software_criteria(app):
    job = make_job(make_customer(), backup_software="NAKIVO")
    failed, warning = _run(job), _run(job, status="warning", message="slow")
    create_override(make_user("admin"), _input(backup_software="NAKIVO", status_match="warning"))
    assert failed.effective_status == "failed" and warning.effective_status == "success"
    other = _run(make_job(make_customer(), backup_software="Veeam"), status="warning", message="slow")
    assert other.effective_status == "warning"


def test_date_bounds_use_the_local_run_date(app):
    job = make_job(make_customer())
    run = _run(job)
    actor = make_user("admin")
    override, _ = create_override(actor, _input(backup_software="Veeam", valid_from=date(2026, 11, 21)))
    assert run.effective_status == "failed"
    update_override(actor, override, _input(backup_software="Veeam", valid_from=date(2026, 11, 20),
                                            valid_until=date(2026, 11, 20)))
    assert run.effective_status == "success"
    update_override(actor, override, _input(backup_software="Veeam", valid_until=date(2026, 11, 19)))
    assert run.effective_status == "failed"


def test_object_level_is_checked_before_global_and_recorded(app):
    job = make_job(make_customer())
    actor = make_user("admin")
    global_override, _ = create_override(actor, _input(backup_software="Veeam", error_text="full"))
    object_override, _ = create_override(actor, _input(level="object", job_id=job.id, error_text="full"))
    run = _run(job)
    assert run.override_id == object_override.id
    assert global_override.id != object_override.id


def test_every_failing_object_must_be_covered(app):
    job = make_job(make_customer())
    run = _run(job, objects=[("vm1", "failed", "Snapshot failed"), ("vm2", "failed", "Disk full"),
                             ("vm3", "success", None)])
    assert [p.object_name for p in run_problems(run)] == ["vm1", "vm2"]
    actor = make_user("admin")
    create_override(actor, _input(level="object", job_id=job.id, object_name="VM1"))
    assert run.effective_status == "failed"
    create_override(actor, _input(level="object", job_id=job.id, object_name="vm2", error_text="disk"))
    assert run.effective_status == "success"


def test_new_runs_get_overrides_applied_and_removal_reapplies(app):
    job = make_job(make_customer())
    actor = make_user("admin")
    override, _ = create_override(actor, _input(level="object", job_id=job.id, error_text="storage"))
    run = _run(job)
    assert run.effective_status == "success" and run.status == "failed"
    delete_override(actor, override)
    assert run.effective_status == "failed" and run.override_id is None


def test_inactive_override_does_nothing_and_reviewed_runs_keep_their_status(app):
    job = make_job(make_customer())
    actor = make_user("admin")
    reviewed = _run(job)
    review_runs(actor, [reviewed])
    fresh = _run(job)
    override, _ = create_override(actor, _input(level="object", job_id=job.id, active=False))
    assert fresh.effective_status == "failed"
    update_override(actor, override, _input(level="object", job_id=job.id, active=True))
    assert fresh.effective_status == "success"
    assert reviewed.effective_status == "failed"


def test_mark_as_success_with_and_without_an_override_for_future_runs(app):
    job = make_job(make_customer())
    actor = make_user("operator")
    first = _run(job)
    mark_run_success(actor, first, create_future_override=False)
    assert first.effective_status == "success" and first.marked_success_at is not None
    later = _run(job)
    assert later.effective_status == "failed"
    mark_run_success(actor, later, create_future_override=True)
    assert later.override_id is not None
    next_one = _run(job)  # the same error again: covered by the new override
    assert next_one.effective_status == "success" and next_one.override_id == later.override_id
    different = _run(job, message="Authentication failed")
    assert different.effective_status == "failed"


def test_validation_errors(app):
    actor = make_user("admin")
    with pytest.raises(OverrideError, match="needs a job"):
        create_override(actor, _input(level="object"))
    with pytest.raises(OverrideError, match="lies before"):
        create_override(actor, _input(backup_software="X", valid_from=date(2026, 2, 1), valid_until=date(2026, 1, 1)))
    with pytest.raises(OverrideError, match="Status must be"):
        create_override(actor, _input(backup_software="X", status_match="exploded"))
