"""The Cove import: every account into the staging table, every linked account's last session into a run.

Seeds, "Cove Data Protection Integration": accounts are always upserted into ``cove_accounts``; an
account linked to a live job (``Job.cove_account_id``) gives that job one run per Cove session,
deduplicated per job by ``external_id = cove-{account_id}-{run_ts}`` (so relinking an account to
another job never collides with the first job's runs); each run carries per-data-source objects
and a remark that summarises the account; and it gets overrides and open tickets like every new run
(``runs.finish_new_run``).

Work goes by pages of accounts: :func:`import_accounts` stages a page with a handful of set-based
statements (one SELECT of the page's existing rows, one INSERT ... ON CONFLICT of the new and
changed ones, one UPDATE that stamps ``last_seen_at`` on the others), then creates the page's new
runs with one more query for the external ids already present and a few statements for their
objects. A failure in one account's data is caught and reported, and the rest of the page goes on.
Services flush; the pass (jobs/cove_import.py) commits each page.

Optional offline detection (a setting, off by default): a linked workstation account whose 28-day
colour bar shows no session for the warning threshold gets one synthetic warning run for that
silence, and one failed run once the failed threshold passes. Workstations take no part in
missed-run detection, so without this a device that stopped backing up would go unnoticed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..clients.cove import CoveAccountStats
from ..extensions import db
from ..models import CoveAccount, CustomerObject, Job, JobObjectLink, JobRun, RunObjectLink
from . import cove_mapping as cm
from .missed_runs import replace_missed_run
from .runs import finish_new_run
from .settings import get_settings, ui_zone

log = logging.getLogger(__name__)

SOURCE_TYPE = "cove_api"
OBJECT_TYPE = "Data source"

_ACCOUNTS = CoveAccount.__table__
_JOB_LINKS = JobObjectLink.__table__


@dataclass
class CoveImportSummary:
    accounts: int = 0
    new_accounts: int = 0
    changed_accounts: int = 0
    linked_accounts: int = 0
    runs_created: int = 0
    runs_existing: int = 0
    offline_runs: int = 0
    errors: list[str] = field(default_factory=list)

    def error_text(self, limit: int = 50) -> str | None:
        """The errors for the settings page and the audit log; a broken pass can have thousands."""
        if not self.errors:
            return None
        more = len(self.errors) - limit
        return "\n".join(self.errors[:limit]) + (f"\n… and {more} more" if more > 0 else "")

    def text(self) -> str:
        offline = f", {self.offline_runs} offline run(s)" if self.offline_runs else ""
        return (f"{self.accounts} account(s) ({self.new_accounts} new, {self.changed_accounts} changed), "
                f"{self.linked_accounts} linked, {self.runs_created} run(s) created, {self.runs_existing} already "
                f"imported{offline}, {len(self.errors)} error(s)")


@dataclass(frozen=True)
class OfflineRule:
    warning_days: int
    failed_days: int


@dataclass
class ImportContext:
    """What a pass reads once: the account links, the UI zone, the offline rule."""

    now_at: datetime
    zone: tzinfo
    # Cove account id -> id of the live job linked to it (Job.cove_account_id).
    links: dict[int, int]
    offline: OfflineRule | None = None


def load_links(account_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Account id -> live job id; with two live jobs on one account (an imported installation), the oldest."""
    query = select(Job.cove_account_id, Job.id).where(Job.cove_account_id.is_not(None), Job.deleted_at.is_(None))
    if account_ids is not None:
        query = query.where(Job.cove_account_id.in_(list(account_ids)))
    links: dict[int, int] = {}
    for account_id, job_id in db.session.execute(query.order_by(Job.id)):
        links.setdefault(account_id, job_id)
    return links


def start_import(now_at: datetime) -> ImportContext:
    settings = get_settings()
    offline = (OfflineRule(settings.cove_offline_warning_days, settings.cove_offline_failed_days)
               if settings.cove_offline_detection_enabled else None)
    return ImportContext(now_at=now_at, zone=ui_zone(), links=load_links(), offline=offline)


# ---- one account's values -----------------------------------------------------------------------


def _clip(value: str | None, length: int) -> str | None:
    # PostgreSQL refuses NUL in text; Cove has no reason to send one, but one bad name must not cost a page.
    return value.replace("\x00", "")[:length] if value else value


@dataclass(frozen=True)
class StagedAccount:
    """One account as read from Cove (or from its staging row), with the fields the row stores."""

    account_id: int
    partner_id: int | None
    stats: dict[str, str]
    fields: cm.CoveAccountFields
    stats_json: str

    @classmethod
    def from_stats(cls, account: CoveAccountStats) -> StagedAccount:
        stats = {code: value.replace("\x00", "") for code, value in account.settings.items()}
        return cls(account.account_id, account.partner_id, stats, cm.account_fields(stats),
                   json.dumps(stats, sort_keys=True, ensure_ascii=False))

    @classmethod
    def from_row(cls, row: CoveAccount) -> StagedAccount:
        stats = json.loads(row.stats_json)
        return cls(row.account_id, row.partner_id, stats, cm.account_fields(stats), row.stats_json)

    def row_values(self) -> dict:
        f = self.fields
        return {"partner_id": self.partner_id, "account_name": _clip(f.account_name, 255),
                "computer_name": _clip(f.computer_name, 255), "customer_name": _clip(f.customer_name, 255),
                "datasource_types": _clip(f.datasource_codes, 255), "account_type": f.account_type,
                "last_status_code": _status_code(self.stats), "last_run_at": f.last_run_at,
                "last_success_at": f.last_success_at, "colorbar_28d": _clip(f.colour_bar, 64),
                "stats_json": self.stats_json}


def _status_code(stats: dict[str, str]) -> int | None:
    """D09F00 as Cove sent it; None when absent or not a number (the page shows "No backup yet")."""
    raw = cm.stat_value(stats, cm.TOTAL_DATASOURCE, cm.F_LAST_STATUS)
    try:
        code = int(raw) if raw is not None else None
    except ValueError:
        return None
    return code if code is not None and -(2**31) < code < 2**31 else None


def _label(account_id: int, stats: dict[str, str] | None = None) -> str:
    name = (stats or {}).get(cm.COL_ACCOUNT_NAME)
    return f"account {account_id}" + (f" ({name})" if name else "")


def upsert(table):
    """INSERT ... ON CONFLICT for the database in use (PostgreSQL in production, SQLite for demo and tests).

    With many rows it is one batched statement, where an UPDATE per row would cost PostgreSQL a
    round trip per row: a nightly pass changes every account.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"no upsert for the {dialect} database")


# ---- staging ------------------------------------------------------------------------------------


def _stage(accounts: Sequence[StagedAccount], context: ImportContext, summary: CoveImportSummary) -> None:
    """Upsert a page of accounts: one SELECT, one upsert of the new and changed rows, one UPDATE of the
    moment the others were seen. Flushes."""
    if not accounts:
        return
    now_at = context.now_at
    existing = {row.account_id: row for row in db.session.execute(
        select(_ACCOUNTS.c.account_id, _ACCOUNTS.c.stats_json, _ACCOUNTS.c.job_id)
        .where(_ACCOUNTS.c.account_id.in_([a.account_id for a in accounts])))}
    mismatched = [a.account_id for a in accounts if a.account_id in existing
                  and existing[a.account_id].job_id != context.links.get(a.account_id)]
    if mismatched:
        # The links were read when the pass started; someone may have linked or unlinked since.
        fresh = load_links(mismatched)
        for account_id in mismatched:
            if account_id in fresh:
                context.links[account_id] = fresh[account_id]
            else:
                context.links.pop(account_id, None)
    writes, unchanged = [], []
    new = changed = 0
    for account in accounts:
        job_id = context.links.get(account.account_id)
        row = existing.get(account.account_id)
        if row is None:
            new += 1
        elif row.stats_json != account.stats_json:
            changed += 1
        elif row.job_id == job_id:
            unchanged.append(account.account_id)
            continue
        writes.append({**account.row_values(), "account_id": account.account_id, "job_id": job_id,
                       "first_seen_at": now_at, "last_seen_at": now_at})
    if writes:
        statement = upsert(_ACCOUNTS)
        statement = statement.on_conflict_do_update(
            index_elements=[_ACCOUNTS.c.account_id],
            set_={name: statement.excluded[name] for name in writes[0] if name not in ("account_id", "first_seen_at")})
        db.session.execute(statement, writes)
    if unchanged:
        db.session.execute(update(_ACCOUNTS).where(_ACCOUNTS.c.account_id.in_(unchanged))
                           .values(last_seen_at=now_at).execution_options(synchronize_session=False))
    summary.new_accounts += new
    summary.changed_accounts += changed


# ---- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NewRun:
    account_id: int
    job_id: int
    external_id: str
    run_at: datetime
    status: str
    message: str
    remark: str
    objects: tuple[cm.CoveObject, ...] = ()
    offline: bool = False


def _one_line(text: str) -> str:
    # Run Checks and the job page show a remark as one line of text, where line breaks vanish.
    return " · ".join(line.strip() for line in text.splitlines() if line.strip())


def _run_message(stats: dict[str, str], run: cm.CoveRun) -> str:
    text = f"{run.status_name} ({run.status_code})" if run.status_code is not None else run.status_name
    errors = cm.stat_value(stats, cm.TOTAL_DATASOURCE, cm.F_ERRORS)
    if errors and errors.isdigit() and int(errors) > 0:
        text += f"; {int(errors)} error{'s' if int(errors) != 1 else ''} in the last session"
    return text


def days_offline(fields: cm.CoveAccountFields, now_at: datetime) -> int | None:
    """Days without a session: the colour bar's trailing empty days; None for a device never backed up."""
    if fields.last_run_at is None:
        return None
    since_last = max(0, (now_at - fields.last_run_at).days)
    bar = cm.decode_colour_bar(fields.colour_bar)
    if not bar:
        return since_last
    days = cm.days_since_last_session(bar)
    # No session anywhere on the bar: at least its length, and as long as the last session says.
    return max(len(bar), since_last) if days is None else days


def _offline_run(account: StagedAccount, job_id: int, rule: OfflineRule, context: ImportContext) -> _NewRun | None:
    days = days_offline(account.fields, context.now_at)
    run_ts = cm.run_timestamp(account.stats)
    if days is None or run_ts is None or days < rule.warning_days:
        return None
    level = "failed" if days >= rule.failed_days else "warning"
    last = cm.format_at(account.fields.last_run_at, context.zone)
    message = (f"No Cove backup for {days} days (last session {last}): the device may be offline. "
               f"{'Failed' if level == 'failed' else 'Warning'} after {getattr(rule, level + '_days')} days "
               f"without a session.")
    return _NewRun(account_id=account.account_id, job_id=job_id,
                   external_id=f"cove-{account.account_id}-offline-{level}-{run_ts}", run_at=context.now_at,
                   status=level, message=message,
                   remark=_one_line(cm.summary_text(account.account_id, account.stats, context.zone)), offline=True)


def _wanted_runs(account: StagedAccount, job: Job, context: ImportContext) -> list[_NewRun]:
    wanted = []
    run = cm.run_for(account.account_id, account.stats, context.zone)
    if run is not None:
        wanted.append(_NewRun(account_id=account.account_id, job_id=job.id, external_id=run.external_id,
                              run_at=run.run_at, status=run.status, message=_run_message(account.stats, run),
                              remark=_one_line(run.remark), objects=run.objects))
    if context.offline is not None and job.backup_type == cm.TYPE_WORKSTATION:
        offline = _offline_run(account, job.id, context.offline, context)
        if offline is not None:
            wanted.append(offline)
    return wanted


def _record_objects(entries: Sequence[tuple[Job, JobRun, cm.CoveObject]]) -> None:
    """The data sources of many new runs, with the statements of services.objects but for a whole page,
    and each object observed at its own data source's session time."""
    first: dict[tuple[int, str], tuple[Job, JobRun, cm.CoveObject]] = {}
    for job, run, obj in entries:
        first.setdefault((run.id, obj.name[:512]), (job, run, obj))
    if not first:
        return

    def observed(run: JobRun, obj: cm.CoveObject) -> datetime:
        return obj.observed_at or run.run_at

    keys = {(job.customer_id, obj.name[:512]) for job, _run, obj in first.values()}
    known: dict[tuple[int, str], int] = {}
    known_seen: dict[tuple[int, str], datetime] = {}
    for row in db.session.execute(
            select(CustomerObject.id, CustomerObject.customer_id, CustomerObject.name, CustomerObject.last_seen_at)
            .where(CustomerObject.customer_id.in_({c for c, _n in keys}), CustomerObject.object_type == OBJECT_TYPE,
                   CustomerObject.name.in_({n for _c, n in keys}))):
        if (row.customer_id, row.name) in keys:
            known[(row.customer_id, row.name)] = row.id
            known_seen[(row.customer_id, row.name)] = row.last_seen_at
    seen_at: dict[tuple[int, str], datetime] = {}
    for job, run, obj in first.values():
        key = (job.customer_id, obj.name[:512])
        seen_at[key] = max(seen_at.get(key, observed(run, obj)), observed(run, obj))
    missing = [key for key in keys if key not in known]
    if missing:
        created = db.session.execute(
            insert(CustomerObject).returning(CustomerObject.id, CustomerObject.customer_id, CustomerObject.name),
            [{"customer_id": c, "object_type": OBJECT_TYPE, "name": n, "first_seen_at": seen_at[(c, n)],
              "last_seen_at": seen_at[(c, n)]} for c, n in missing])
        known.update({(row.customer_id, row.name): row.id for row in created})
    older = [key for key, last_seen_at in known_seen.items() if last_seen_at < seen_at[key]]
    if older:
        objects = CustomerObject.__table__
        statement = upsert(objects)
        statement = statement.on_conflict_do_update(
            index_elements=[objects.c.customer_id, objects.c.object_type, objects.c.name],
            set_={"last_seen_at": statement.excluded.last_seen_at},
            where=objects.c.last_seen_at < statement.excluded.last_seen_at)
        db.session.execute(statement, [{"customer_id": c, "object_type": OBJECT_TYPE, "name": n,
                                        "first_seen_at": seen_at[(c, n)], "last_seen_at": seen_at[(c, n)]}
                                       for c, n in older])
    db.session.execute(insert(RunObjectLink), [
        {"job_run_id": run.id, "customer_object_id": known[(job.customer_id, name)], "status": obj.status,
         "error_message": obj.details, "observed_at": observed(run, obj)}
        for (_run_id, name), (job, run, obj) in first.items()])

    # The job's view of each object: its most recent status, unless a newer one is already there.
    latest: dict[tuple[int, int], tuple[datetime, cm.CoveObject]] = {}
    for (_run_id, name), (job, run, obj) in first.items():
        key = (job.id, known[(job.customer_id, name)])
        if key not in latest or observed(run, obj) >= latest[key][0]:
            latest[key] = (observed(run, obj), obj)
    statement = upsert(_JOB_LINKS)
    statement = statement.on_conflict_do_update(
        index_elements=[_JOB_LINKS.c.job_id, _JOB_LINKS.c.customer_object_id],
        set_={name: statement.excluded[name] for name in ("last_seen_at", "last_status", "last_error")},
        where=_JOB_LINKS.c.last_seen_at <= statement.excluded.last_seen_at)
    db.session.execute(statement, [
        {"job_id": job_id, "customer_object_id": object_id, "first_seen_at": seen, "last_seen_at": seen,
         "last_status": obj.status, "last_error": obj.details} for (job_id, object_id), (seen, obj) in latest.items()])


def _create_runs(wanted: Sequence[_NewRun], jobs: dict[int, Job]) -> list[JobRun]:
    runs = []
    for item in wanted:
        run = JobRun(job_id=item.job_id, run_at=item.run_at, status=item.status, informational=False,
                     source_type=SOURCE_TYPE, external_id=item.external_id, message=item.message,
                     remark=item.remark)
        db.session.add(run)
        runs.append(run)
    db.session.flush()
    _record_objects([(jobs[item.job_id], run, obj) for item, run in zip(wanted, runs, strict=True)
                     for obj in item.objects])
    for item, run in zip(wanted, runs, strict=True):
        job = jobs[item.job_id]
        if not item.offline:
            replace_missed_run(job, run)
        finish_new_run(job, run)
    return runs


def _import_runs(accounts: Sequence[StagedAccount], context: ImportContext, summary: CoveImportSummary) -> list[JobRun]:
    linked = [(account, context.links[account.account_id]) for account in accounts
              if account.account_id in context.links]
    summary.linked_accounts += len(linked)
    if not linked:
        return []
    jobs = {job.id: job for job in db.session.scalars(select(Job).where(Job.id.in_({j for _a, j in linked})))}
    wanted: list[_NewRun] = []
    for account, job_id in linked:
        job = jobs.get(job_id)
        if job is None:
            continue  # deleted since the pass read the links
        try:
            wanted.extend(_wanted_runs(account, job, context))
        except Exception as exc:  # noqa: BLE001 - one account's odd values must not stop the page
            log.warning("Cove %s: no run: %s", _label(account.account_id, account.stats), exc, exc_info=True)
            summary.errors.append(f"{_label(account.account_id, account.stats)}: no run: {type(exc).__name__}: {exc}")
    if not wanted:
        return []
    present = {(job_id, external_id) for job_id, external_id in db.session.execute(
        select(JobRun.job_id, JobRun.external_id)
        .where(JobRun.job_id.in_({w.job_id for w in wanted}),
               JobRun.external_id.in_({w.external_id for w in wanted})))}
    new = [w for w in wanted if (w.job_id, w.external_id) not in present]
    summary.runs_existing += len(wanted) - len(new)
    if not new:
        return []
    try:
        with db.session.begin_nested():
            runs = _create_runs(new, jobs)
    except Exception:  # noqa: BLE001 - redone run by run below, so only the culprit is lost
        log.info("Cove: creating %d runs together failed; creating them one by one", len(new), exc_info=True)
        runs = []
        for item in new:
            try:
                with db.session.begin_nested():
                    runs.extend(_create_runs([item], jobs))
            except IntegrityError as exc:
                if _run_exists(item):
                    summary.runs_existing += 1  # created meanwhile by a link or another instance
                else:
                    summary.errors.append(f"{_label(item.account_id)}: run {item.external_id} not created: {exc}")
            except Exception as exc:  # noqa: BLE001
                log.warning("Cove: run %s not created", item.external_id, exc_info=True)
                summary.errors.append(f"{_label(item.account_id)}: run {item.external_id} not created: "
                                      f"{type(exc).__name__}: {exc}")
    created = {(run.job_id, run.external_id) for run in runs}
    offline = sum(1 for item in new if item.offline and (item.job_id, item.external_id) in created)
    summary.offline_runs += offline
    summary.runs_created += len(runs) - offline
    return runs


def _run_exists(item: _NewRun) -> bool:
    return db.session.scalar(select(JobRun.id).where(JobRun.job_id == item.job_id,
                                                     JobRun.external_id == item.external_id)) is not None


# ---- a page -------------------------------------------------------------------------------------


def import_accounts(accounts: Sequence[CoveAccountStats], context: ImportContext,
                    summary: CoveImportSummary) -> list[JobRun]:
    """Stage one page of accounts and create the runs of the linked ones. Flushes; the caller commits.

    Returns the runs created. Errors in single accounts are added to ``summary.errors``; the others
    go on.
    """
    staged: list[StagedAccount] = []
    for account in accounts:
        try:
            staged.append(StagedAccount.from_stats(account))
        except Exception as exc:  # noqa: BLE001 - one account's odd values must not stop the page
            log.warning("Cove %s unreadable", _label(account.account_id), exc_info=True)
            summary.errors.append(f"{_label(account.account_id)}: unreadable: {type(exc).__name__}: {exc}")
    summary.accounts += len(accounts)
    try:
        with db.session.begin_nested():
            _stage(staged, context, summary)
    except Exception:  # noqa: BLE001 - redone account by account below
        log.info("Cove: staging %d accounts together failed; staging them one by one", len(staged), exc_info=True)
        kept = []
        for account in staged:
            try:
                with db.session.begin_nested():
                    _stage([account], context, summary)
                kept.append(account)
            except Exception as exc:  # noqa: BLE001
                log.warning("Cove %s not stored", _label(account.account_id, account.stats), exc_info=True)
                summary.errors.append(f"{_label(account.account_id, account.stats)}: not stored: "
                                      f"{type(exc).__name__}: {exc}")
        staged = kept
    return _import_runs(staged, context, summary)


def import_linked_account(account: StagedAccount, job_id: int, now_at: datetime) -> tuple[list[JobRun],
                                                                                           CoveImportSummary]:
    """The runs of one account just linked to ``job_id``, from its stored statistics. Flushes."""
    base = start_import(now_at)
    context = ImportContext(now_at=now_at, zone=base.zone, links={account.account_id: job_id}, offline=base.offline)
    summary = CoveImportSummary(accounts=1)
    return _import_runs([account], context, summary), summary
