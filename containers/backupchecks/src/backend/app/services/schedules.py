"""Learning a backup job's schedule from its runs, and evaluating expected slots.

Pure functions only: no database, no Flask. The app (and ``backupchecks schedule infer``) call these
with plain values; the DB-facing code that creates missed runs lives elsewhere and builds on
:func:`expected_slots`, :func:`match_runs_to_slots` and :func:`slot_status`.

Everything is learned and evaluated on the local wall clock of the UI timezone, so a job that runs at
22:00 stays a 22:00 job across daylight-saving changes. Run instants stay UTC-aware throughout.

How :func:`infer_schedule` works, in order:

1. Only runs in the look-back (180 days before ``now_at``) are considered; weekly patterns use the
   last 90 days of them.
2. Intraday: when most (70%) of the recent active days (28 days) have several runs, recurring
   times of day are found as peaks of a minute-of-day histogram. A time seen on at least half of the
   active days since it first appeared is a slot, a slot absent from the last three complete days is
   dropped, and two or more slots make an intraday schedule.
3. Otherwise a run less than three hours after the first run of its group is a retry and the group
   counts once (the first run is the scheduled one).
4. Change of time: walking back from the newest run, a stretch of recent runs at a clearly different
   time (beyond max(60 min, 4 sigma of the night-to-night variation)) after older runs that were
   mostly at another time, with the job no longer running at the old time, ends the history learned
   from. Until the new time has enough runs nothing is expected, rather than the old time.
5. The time of day is the densest hour on a circular clock, refined by the median of the runs within
   an hour of it and put on a 5-minute mark, so 23:55 and 00:05 are ten minutes apart, not a day.
   Each run belongs to the night whose scheduled time is nearest (a 00:05 run of a 23:55 job belongs
   to the evening before); on DST nights its deviation is measured against the widened slot window.
6. Weekdays: a weekday with at least 60% of its dates run is scheduled, and so is one with fewer
   misses than runs when its misses are plausible for the job's own skip rate. Together they must
   cover 70% of their dates and explain 75% of the on-time nights; four or more weekdays make a daily
   schedule, one to three a weekly one. When a weekday stopped (its last three or more dates empty
   after a well-covered past) or started (three quarters of its dates run from some date on after
   hardly any before) and the weeks before were a regular pattern too, only the weeks since count.
7. Without a weekly pattern, monthly candidates over 180 days (day of month, last day of the month,
   nth or last weekday) are scored by the runs they explain, then by the share of their dates that
   ran; near midnight both calendar readings are tried.
8. The tolerance comes from the 2.5-97.5 percentile spread of the deviations (runs hours off are
   fenced out), times 1.25 (1.5 below 20 runs) plus 10 minutes, on a 5-minute step between 15 and
   240 minutes (intraday: below half the slot spacing). Too little evidence for any of this gives
   ``irregular``: nothing is expected.
"""

from __future__ import annotations

import calendar
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any, Literal
from zoneinfo import ZoneInfo

Kind = Literal["daily", "weekly", "monthly", "intraday", "irregular"]
KINDS: tuple[str, ...] = ("daily", "weekly", "monthly", "intraday", "irregular")
SlotStatus = Literal["done", "expected", "missed"]

WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
ORDINALS: dict[int, str] = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}

DAY_MINUTES = 1440
DAILY_LOOKBACK = timedelta(days=90)
MONTHLY_LOOKBACK = timedelta(days=180)
# Intraday slots are found on recent days only, so a job that moved from every 4 hours to every
# 2 hours does not keep its old slots for three months.
INTRADAY_RECENT = timedelta(days=28)
RETRY_WINDOW = timedelta(hours=3)
MANY_RUNS = 1000

MIN_DAILY_RUNS = 5
MIN_WEEKLY_RUNS = 3
MIN_RUNS_PER_WEEKDAY = 2
MIN_MONTHLY_RUNS = 3
MAX_DAYS_OF_MONTH = 4
MIN_MONTHLY_NET = 2
MIN_INTRADAY_DAYS = 3
MIN_INTRADAY_ACTIVE_DAYS = 7

# 60% rather than 50% so that a job running every other week is not expected every week.
WEEKDAY_COVERAGE = 0.6
MONTHLY_COVERAGE = 0.6
POOLED_COVERAGE = 0.7
EXPLAINED_SHARE = 0.75
INTRADAY_SLOT_COVERAGE = 0.5
INTRADAY_PEAK_SHARE = 0.25
# Retries give some nights a second run; an intraday job has several runs on nearly every day.
INTRADAY_MULTI_RUN_SHARE = 0.7
RECENT_OPPORTUNITIES = 3
# Below that share a weekday is still kept when its misses have at least this probability under the
# job's own skip rate (never assumed below MIN_SKIP_RATE).
PLAUSIBLE_MISSES = 0.01
MIN_SKIP_RATE = 0.05
# A weekday that "started" must have run on at most a quarter of its dates before.
STARTED_COVERAGE = 0.25
STARTED_RECENT_COVERAGE = 0.75

# A run more than four hours from the learned time is an extra (manual) run, not the night's run.
INLIER_MINUTES = 240
TOLERANCE_FLOOR = 15
TOLERANCE_CAP = 240
TOLERANCE_MARGIN = 10
MANUAL_TOLERANCE = 30

CHANGE_MIN_MINUTES = 60
CHANGE_RUN_LENGTH = 3
CHANGE_REFERENCE_RUNS = 3
CHANGE_OLD_TIME_SHARE = 0.2

INTRADAY_PEAK_HALF_WIDTH = 10
INTRADAY_MEMBER_MINUTES = 20
INTRADAY_MIN_SPACING = 30
INTRADAY_MAX_SLOTS = 48
CENTER_PEAK_HALF_WIDTH = 30
# Manual runs a few hours off would pull a median over all runs; the time comes from runs this close.
CENTER_NEAR_MINUTES = 60
TIME_MARK_MINUTES = 5
MARK_EARLY_MINUTES = 2
MIDNIGHT_AMBIGUITY_MINUTES = 30


# --------------------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True)
class LearnedSchedule:
    """A job's schedule, learned from its runs or set by hand (``source == "manual"``).

    ``weekdays`` use 0 = Monday and apply to daily, weekly and intraday schedules. Monthly schedules
    use ``days_of_month`` (-1 = last day of the month; a day a month lacks, such as the 31st of
    April, is not expected that month) or ``nth_weekday`` ``[n, weekday]`` with n = -1 for the last
    one. ``times`` are local wall-clock "HH:MM" in the timezone the schedule is evaluated in.
    """

    kind: Kind
    weekdays: list[int] = field(default_factory=list)
    days_of_month: list[int] = field(default_factory=list)
    nth_weekday: list[int] | None = None
    times: list[str] = field(default_factory=list)
    tolerance_minutes: int = 0
    runs_used: int = 0
    since_at: datetime | None = None
    source: Literal["learned", "manual"] = "learned"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown schedule kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if any(not isinstance(w, int) or not 0 <= w <= 6 for w in self.weekdays):
            raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {self.weekdays!r}")
        if any(not isinstance(d, int) or not (d == -1 or 1 <= d <= 31) for d in self.days_of_month):
            raise ValueError(f"days of month must be 1 to 31 or -1 (last day), got {self.days_of_month!r}")
        if self.nth_weekday is not None:
            nth = self.nth_weekday
            if len(nth) != 2 or nth[0] not in ORDINALS or not 0 <= nth[1] <= 6:
                raise ValueError(f"nth_weekday must be [n, weekday] with n 1 to 5 or -1, got {nth!r}")
        for value in self.times:
            _parse_hhmm(value)
        if self.tolerance_minutes < 0:
            raise ValueError("tolerance_minutes must not be negative")
        if self.since_at is not None and self.since_at.tzinfo is None:
            raise ValueError("since_at must be timezone-aware")

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def manual(
        cls,
        kind: Kind,
        *,
        times: Sequence[str] = (),
        weekdays: Sequence[int] | None = None,
        days_of_month: Sequence[int] = (),
        nth_weekday: Sequence[int] | None = None,
        tolerance_minutes: int = MANUAL_TOLERANCE,
    ) -> LearnedSchedule:
        """A schedule an admin or operator set by hand; it is evaluated exactly like a learned one.

        Daily and intraday schedules without weekdays run every day. ``kind="irregular"`` means
        "no schedule": nothing is ever expected.
        """
        if kind == "irregular":
            return cls(kind="irregular", source="manual")
        normalised_times = sorted({_format_hhmm(_parse_hhmm(value)) for value in times})
        if not normalised_times:
            raise ValueError(f"a {kind} schedule needs at least one time")
        days = sorted(set(weekdays if weekdays is not None else ()))
        if kind in ("daily", "intraday") and not days:
            days = list(range(7))
        if kind == "weekly" and not days:
            raise ValueError("a weekly schedule needs at least one weekday")
        month_days = sorted(set(days_of_month), key=lambda day: (day == -1, day))
        nth = list(nth_weekday) if nth_weekday is not None else None
        if kind == "monthly":
            if not month_days and nth is None:
                raise ValueError("a monthly schedule needs days of the month or an nth weekday")
            days = []
        else:
            month_days, nth = [], None
        return cls(
            kind=kind, weekdays=days, days_of_month=month_days, nth_weekday=nth, times=normalised_times,
            tolerance_minutes=int(tolerance_minutes), source="manual",
        )

    @classmethod
    def irregular(cls, runs_used: int = 0, since_at: datetime | None = None) -> LearnedSchedule:
        return cls(kind="irregular", runs_used=runs_used, since_at=since_at)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedSchedule:
        """Inverse of :meth:`to_dict` (with or without ``include_meta``)."""
        since_raw = data.get("since_at")
        since_at = datetime.fromisoformat(since_raw) if since_raw else None
        nth = data.get("nth_weekday")
        return cls(
            kind=data["kind"],
            weekdays=[int(w) for w in data.get("weekdays") or []],
            days_of_month=[int(d) for d in data.get("days_of_month") or []],
            nth_weekday=[int(nth[0]), int(nth[1])] if nth else None,
            times=[str(t) for t in data.get("times") or []],
            tolerance_minutes=int(data.get("tolerance_minutes") or 0),
            runs_used=int(data.get("runs_used") or 0),
            since_at=since_at,
            source=data.get("source") or "learned",
        )

    # -- output ------------------------------------------------------------------------------------

    def to_dict(self, *, include_meta: bool = False) -> dict[str, Any]:
        """The JSON form printed by ``backupchecks schedule infer``.

        ``include_meta`` adds ``since_at`` and ``source`` so a cached copy keeps its evidence.
        """
        result: dict[str, Any] = {
            "kind": self.kind,
            "weekdays": list(self.weekdays),
            "days_of_month": list(self.days_of_month),
            "nth_weekday": list(self.nth_weekday) if self.nth_weekday is not None else None,
            "times": list(self.times),
            "tolerance_minutes": self.tolerance_minutes,
            "runs_used": self.runs_used,
        }
        if include_meta:
            result["since_at"] = self.since_at.isoformat() if self.since_at else None
            result["source"] = self.source
        return result

    @property
    def expects_runs(self) -> bool:
        return self.kind != "irregular" and bool(self.times)

    def describe(self) -> str:
        """The schedule itself in words, e.g. "Monday to Friday around 22:00 (± 12 min)"."""
        if not self.expects_runs:
            return "no schedule"
        approx = "at" if self.source == "manual" else "around"
        tolerance = f" (± {self.tolerance_minutes} min)"
        if self.kind == "monthly":
            return f"{_describe_month_days(self)} {approx} {self.times[0]}{tolerance}"
        days = describe_weekdays(self.weekdays)
        if self.kind == "intraday":
            return f"{days} at {_join_words(self.times)}{tolerance}"
        return f"{days} {approx} {_join_words(self.times)}{tolerance}"

    def evidence_text(self, tz: ZoneInfo | None = None) -> str:
        """Where the schedule comes from, for showing beside it.

        e.g. "learned from 41 runs since 2026-08-01: Monday to Friday around 22:00 (± 12 min)".
        ``tz`` gives the date in the UI timezone (UTC otherwise).
        """
        if self.source == "manual":
            if not self.expects_runs:
                return "set by hand: no schedule, nothing is expected"
            return f"set by hand: {self.describe()}"
        if not self.expects_runs:
            return f"no regular schedule found in {self.runs_used} {_plural(self.runs_used, 'run')}"
        since = ""
        if self.since_at is not None:
            since_local = self.since_at.astimezone(tz) if tz is not None else self.since_at.astimezone(UTC)
            since = f" since {since_local.date().isoformat()}"
        return f"learned from {self.runs_used} {_plural(self.runs_used, 'run')}{since}: {self.describe()}"


@dataclass(frozen=True)
class ExpectedSlot:
    """One moment a run is expected.

    ``slot_at`` is the scheduled local time as a UTC instant. The window is ``slot_at`` ± tolerance,
    widened on DST nights so that a run at either reading of the local time belongs to the slot.
    ``local_date`` is the local date of the scheduled time (the backup night it belongs to).
    """

    slot_at: datetime
    window_start_at: datetime
    window_end_at: datetime
    local_date: date
    local_time: str


# --------------------------------------------------------------------------------------------------
# Evaluation: slots, matching, status


def expected_slots(
    schedule: LearnedSchedule, start_at: datetime, end_at: datetime, tz: ZoneInfo,
) -> list[ExpectedSlot]:
    """Every slot of ``schedule`` with ``start_at <= slot_at < end_at``, in time order.

    A local time that does not exist (spring-forward gap) is expected at the first instant after the
    gap, with the window stretched to the instant the same wall time would have had without the
    change. An ambiguous local time (autumn) is expected at its first occurrence, with the window
    stretched to cover the second one as well.
    """
    start_at, end_at = _as_utc(start_at), _as_utc(end_at)
    if not schedule.expects_runs or end_at <= start_at:
        return []
    tolerance = timedelta(minutes=schedule.tolerance_minutes)
    clock_times = [_parse_hhmm(value) for value in schedule.times]
    day = start_at.astimezone(tz).date() - timedelta(days=1)
    last_day = end_at.astimezone(tz).date() + timedelta(days=1)
    slots: list[ExpectedSlot] = []
    while day <= last_day:
        if _schedule_runs_on(schedule, day):
            for minutes in clock_times:
                slot_at, early_at, late_at = _local_instants(day, minutes, tz)
                if start_at <= slot_at < end_at:
                    slots.append(ExpectedSlot(
                        slot_at=slot_at, window_start_at=early_at - tolerance,
                        window_end_at=late_at + tolerance, local_date=day, local_time=_format_hhmm(minutes),
                    ))
        day += timedelta(days=1)
    slots.sort(key=lambda slot: slot.slot_at)
    return slots


def match_runs_to_slots(
    slots: Sequence[ExpectedSlot], run_times: Iterable[datetime], grace_minutes: int = 0,
) -> list[tuple[ExpectedSlot, datetime | None]]:
    """Pair slots with runs: each run fills at most one slot and each slot takes at most one run.

    A run can fill a slot when it lies in the slot's window widened by ``grace_minutes`` on both
    sides: a run that came late, but before the slot would be reported missed, or a little early
    (clock skew, a started-by-hand run) is that slot's run, not a reason to report it missed. Pairs
    are made nearest first, so a retry never takes the place of the run it retried and a late run
    never takes the next slot's own run. The result follows the order of ``slots``.
    """
    runs = sorted(_as_utc(run_at) for run_at in run_times)
    grace = timedelta(minutes=grace_minutes)
    candidates: list[tuple[float, int, int]] = []
    for slot_index, slot in enumerate(slots):
        low = bisect_left(runs, slot.window_start_at - grace)
        high = bisect_right(runs, slot.window_end_at + grace)
        for run_index in range(low, high):
            distance = abs((runs[run_index] - slot.slot_at).total_seconds())
            candidates.append((distance, slot_index, run_index))
    candidates.sort()
    slot_runs: list[datetime | None] = [None] * len(slots)
    used_runs: set[int] = set()
    for _distance, slot_index, run_index in candidates:
        if slot_runs[slot_index] is None and run_index not in used_runs:
            slot_runs[slot_index] = runs[run_index]
            used_runs.add(run_index)
    return list(zip(slots, slot_runs, strict=True))


def slot_status(
    slot: ExpectedSlot, matched_run_at: datetime | None, now_at: datetime, grace_minutes: int,
) -> SlotStatus:
    """"done" with a run; "missed" once the window plus grace has passed without one; else "expected"."""
    if matched_run_at is not None:
        return "done"
    if _as_utc(now_at) > slot.window_end_at + timedelta(minutes=grace_minutes):
        return "missed"
    return "expected"


# --------------------------------------------------------------------------------------------------
# Learning


@dataclass(slots=True)
class _Run:
    at: datetime
    day: date
    minute: float


@dataclass(slots=True)
class _Night:
    night: date
    run: _Run
    deviation: float


def infer_schedule(
    run_times: Sequence[datetime], tz: ZoneInfo, now_at: datetime | None = None,
) -> LearnedSchedule:
    """Learn a job's schedule from its run instants (UTC-aware), in the local timezone ``tz``.

    ``now_at`` (default: the latest run) anchors the look-back; runs after it are ignored. Callers
    leave informational runs out. See the module docstring for the method.
    """
    ordered = sorted(_as_utc(run_at) for run_at in run_times)
    if now_at is None:
        if not ordered:
            return LearnedSchedule.irregular()
        now_at = ordered[-1]
    now_at = _as_utc(now_at)
    window = ordered[bisect_left(ordered, now_at - MONTHLY_LOOKBACK):bisect_right(ordered, now_at)]
    if not window:
        return LearnedSchedule.irregular()

    # An intraday job has thousands of runs, of which only the recent weeks are needed in local time.
    recent_start = bisect_left(window, window[-1] - INTRADAY_RECENT)
    runs = [_to_local(run_at, tz) for run_at in window] if len(window) <= MANY_RUNS else []
    recent_runs = runs[recent_start:] if runs else [_to_local(run_at, tz) for run_at in window[recent_start:]]
    intraday = _infer_intraday(recent_runs, window[bisect_left(window, now_at - DAILY_LOOKBACK):], tz)
    if intraday is not None:
        return intraday

    runs = runs or [_to_local(run_at, tz) for run_at in window]
    occurrences = _drop_retries(runs)
    occurrences = occurrences[_change_start([run.minute for run in occurrences]):]
    fallback = LearnedSchedule.irregular(len(occurrences), occurrences[0].at if occurrences else None)
    if len(occurrences) < min(MIN_WEEKLY_RUNS, MIN_MONTHLY_RUNS, MIN_DAILY_RUNS):
        return fallback

    center = _circular_center([run.minute for run in occurrences])
    nights = _assign_nights(occurrences, center, tz)

    recent_nights = [item for item in nights if item.run.at >= now_at - DAILY_LOOKBACK]
    weekly = _infer_weekly(recent_nights, center)
    if weekly is not None:
        return weekly
    monthly = _infer_monthly(nights, center)
    # Close to midnight the calendar day of a run is ambiguous, and for a monthly rule the day is
    # everything ("first Friday 00:00" is not "first Thursday 23:55"): read it both ways and keep the
    # reading that explains more runs.
    other_center = _other_side_of_midnight(center)
    if other_center is not None:
        other = _infer_monthly(_assign_nights(occurrences, other_center, tz), other_center)
        if other is not None and (monthly is None or other.runs_used > monthly.runs_used):
            monthly = other
    if monthly is not None:
        return monthly
    return fallback


def _infer_weekly(nights: list[_Night], center: int) -> LearnedSchedule | None:
    if not nights:
        return None
    change = _weekday_change_date(nights)
    if change is not None:
        older = [item for item in nights if item.night < change]
        # Only a change from one regular pattern to another counts; a job that runs on random days
        # would otherwise be learned from whichever recent weeks happened to look regular.
        if older and _weekly_pattern(older) is not None:
            nights = [item for item in nights if item.night >= change]
    pattern = _weekly_pattern(nights)
    if pattern is None:
        return None
    kind, weekdays, used = pattern
    return LearnedSchedule(
        kind=kind, weekdays=weekdays, times=[_format_hhmm(center)],
        tolerance_minutes=_tolerance([item.deviation for item in used], TOLERANCE_CAP),
        runs_used=len(used), since_at=min(item.run.at for item in used),
    )


def _weekly_pattern(nights: list[_Night]) -> tuple[Kind, list[int], list[_Night]] | None:
    """(kind, weekdays, nights used) when the nights follow a daily or weekly pattern."""
    if not nights:
        return None
    first, last = nights[0].night, nights[-1].night
    weekdays = _select_weekdays({item.night for item in nights}, first, last)
    if not weekdays:
        return None
    used = [item for item in nights if item.night.weekday() in weekdays]
    per_weekday = [0] * 7
    for item in used:
        per_weekday[item.night.weekday()] += 1
    # The weekdays together must be well covered and account for most runs, or a job that runs on
    # random days would be expected on the weekdays that happened to come up most.
    opportunities = _weekday_counts(first, last)
    if len(used) < POOLED_COVERAGE * sum(opportunities[w] for w in weekdays):
        return None
    if not _explains_runs(used, nights):
        return None
    if len(weekdays) >= 4:
        return ("daily", weekdays, used) if len(used) >= MIN_DAILY_RUNS else None
    if len(used) < MIN_WEEKLY_RUNS or any(per_weekday[w] < MIN_RUNS_PER_WEEKDAY for w in weekdays):
        return None
    return "weekly", weekdays, used


def _explains_runs(used: list[_Night], nights: list[_Night]) -> bool:
    """Whether the nights a rule uses are most of the nights that look like scheduled runs.

    Nights outside the rule count against it only when their run was as close to the learned time
    as the rule's own runs; a run hours off the time is a manual extra, not a sign of a pattern.
    """
    tolerance = _tolerance([item.deviation for item in used], TOLERANCE_CAP)
    used_nights = {item.night for item in used}
    others = sum(1 for item in nights if item.night not in used_nights and abs(item.deviation) <= tolerance)
    return len(used) >= EXPLAINED_SHARE * (len(used) + others)


def _weekday_change_date(nights: list[_Night]) -> date | None:
    """The date the weekday pattern last changed, if a weekday recently stopped or started.

    A weekday stopped when its last three or more dates had no run after a well-covered past. It
    started when, from some date on, at least three quarters of its dates ran (the odd skip allowed)
    after a past with hardly any runs.
    """
    first, last = nights[0].night, nights[-1].night
    hit_days = {item.night for item in nights}
    change: date | None = None
    for weekday in range(7):
        dates = _weekday_dates(weekday, first, last)
        flags = [day in hit_days for day in dates]
        candidate: date | None = None
        trailing_misses = 0
        while trailing_misses < len(flags) and not flags[-1 - trailing_misses]:
            trailing_misses += 1
        before = flags[: len(flags) - trailing_misses]
        if trailing_misses >= RECENT_OPPORTUNITIES and len(before) >= 2:
            if sum(before) >= WEEKDAY_COVERAGE * len(before):
                candidate = dates[len(before) - 1] + timedelta(days=1)
        else:
            for split in range(2, len(flags) - RECENT_OPPORTUNITIES + 1):
                after = flags[split:]
                if (flags[split] and sum(after) >= STARTED_RECENT_COVERAGE * len(after)
                        and sum(flags[:split]) <= STARTED_COVERAGE * split):
                    candidate = dates[split]
                    break
        if candidate is not None:
            change = candidate if change is None else max(change, candidate)
    return change


def _infer_monthly(nights: list[_Night], center: int) -> LearnedSchedule | None:
    if len(nights) < MIN_MONTHLY_RUNS:
        return None
    first, last = nights[0].night, nights[-1].night
    hit_days = {item.night for item in nights}

    # Each candidate rule is scored by the runs it explains, then by the share of its dates that ran.
    candidates: dict[tuple[str, int, int], tuple[int, float]] = {}
    for item in nights:
        day = item.night
        keys = [("day", day.day, 0), ("nth", (day.day - 1) // 7 + 1, day.weekday())]
        if _is_last_day(day):
            keys.append(("day", -1, 0))
        if _is_last_weekday(day):
            keys.append(("nth", -1, day.weekday()))
        for key in keys:
            if key not in candidates:
                dates = _candidate_dates(key, first, last)
                hits = sum(1 for d in dates if d in hit_days)
                candidates[key] = (hits, hits / len(dates) if dates else 0.0)

    def qualifies(score: tuple[int, float]) -> bool:
        hits, coverage = score
        # With few runs every miss weighs: three hits need at most one miss, so three runs of a job
        # that runs on random days do not make a monthly schedule by landing on the same date.
        misses = hits / coverage - hits if coverage else 0.0
        return hits >= MIN_MONTHLY_RUNS and coverage >= MONTHLY_COVERAGE and hits - misses >= MIN_MONTHLY_NET

    # Ties go to a plain day of the month, then to "last day", then to weekday rules.
    preference = {("day", True): 0, ("day", False): 1, ("nth", True): 2, ("nth", False): 2}
    ranked = sorted(
        (key for key, score in candidates.items() if qualifies(score)),
        key=lambda key: (-candidates[key][0], -candidates[key][1], preference[(key[0], key[1] > 0)], key),
    )
    if not ranked:
        return None
    best = ranked[0]
    if best[0] == "day":
        # Further days of the month (the 1st and the 15th) are kept when they explain enough runs
        # of their own; day 31 adds nothing to "last day" and is left out.
        chosen = [best[1]]
        matches = [item for item in nights if _day_matches(item.night, chosen)]
        for key in ranked[1:]:
            if key[0] != "day":
                continue
            explained = {item.night for item in matches}
            extra = [
                item for item in nights if item.night not in explained and _day_matches(item.night, [key[1]])
            ]
            if len(extra) >= MIN_MONTHLY_RUNS:
                chosen.append(key[1])
                matches.extend(extra)
        # A job on many days of every month is a daily job seen through a gap, not a monthly one.
        if len(chosen) > MAX_DAYS_OF_MONTH:
            return None
        days_of_month, nth = sorted(chosen, key=lambda d: (d == -1, d)), None
        matches.sort(key=lambda item: item.night)
    else:
        nth = [best[1], best[2]]
        matches = [item for item in nights if _nth_matches(item.night, nth)]
        days_of_month = []
    # The rule must account for the job's runs, not be a coincidence among many runs on other days.
    if len(matches) < MIN_MONTHLY_RUNS or not _explains_runs(matches, nights):
        return None
    return LearnedSchedule(
        kind="monthly", days_of_month=days_of_month, nth_weekday=nth, times=[_format_hhmm(center)],
        tolerance_minutes=_tolerance([item.deviation for item in matches], TOLERANCE_CAP),
        runs_used=len(matches), since_at=min(item.run.at for item in matches),
    )


def _infer_intraday(recent_runs: list[_Run], daily_window: list[datetime], tz: ZoneInfo) -> LearnedSchedule | None:
    """An intraday schedule from the last weeks' runs, or None when the job is not intraday."""
    runs_per_day: dict[date, int] = {}
    for run in recent_runs:
        runs_per_day[run.day] = runs_per_day.get(run.day, 0) + 1
    active_days = sorted(runs_per_day)
    if len(active_days) < MIN_INTRADAY_ACTIVE_DAYS:
        return None
    if sum(1 for count in runs_per_day.values() if count >= 2) < INTRADAY_MULTI_RUN_SHARE * len(active_days):
        return None

    centers = sorted(_find_intraday_slots(recent_runs, active_days))
    # A slot that none of the last complete active days had (today's later slots may still come) has
    # been taken out of the job's schedule. Runs count for the slot nearest to them, so a late run
    # still shows that its slot is alive.
    latest_days = set([day for day in active_days if day < recent_runs[-1].day][-RECENT_OPPORTUNITIES:])
    if len(centers) >= 2 and len(latest_days) == RECENT_OPPORTUNITIES:
        nearest = _nearest_centers(centers)
        alive = {nearest[int(run.minute) % DAY_MINUTES] for run in recent_runs if run.day in latest_days}
        centers = [center for center in centers if center in alive]
    if len(centers) < 2:
        return None
    spacing = min(_circular_distance(a, b) for a, b in zip(centers, centers[1:] + centers[:1], strict=True))
    if spacing < INTRADAY_MIN_SPACING:
        return None

    days = _active_local_days(daily_window, tz)
    weekdays = _select_weekdays(set(days), days[0], days[-1])
    if not weekdays:
        return None
    # The spread is measured on every recent run near a slot, not only the ones that formed it, so
    # the odd early or late run widens the window as it does for a daily job.
    nearest = _nearest_centers(centers)
    members: list[_Run] = []
    deviations: list[float] = []
    for run in recent_runs:
        deviation = _wrap(run.minute - nearest[int(run.minute) % DAY_MINUTES])
        if abs(deviation) < spacing / 2:
            members.append(run)
            deviations.append(deviation)
    # Windows of neighbouring slots must not overlap, or one run could be claimed by two slots.
    cap = max(5, min(TOLERANCE_CAP, spacing // 2 - 5))
    return LearnedSchedule(
        kind="intraday", weekdays=weekdays, times=[_format_hhmm(center) for center in centers],
        tolerance_minutes=_tolerance(deviations, cap), runs_used=len(members),
        since_at=min(member.at for member in members),
    )


def _find_intraday_slots(runs: list[_Run], active_days: list[date]) -> list[int]:
    """Recurring times of day (minutes), found strongest first as peaks of a minute histogram.

    A time counts when it was seen on at least half of the active days since it first appeared, so
    a slot added to the job's schedule two weeks ago is not outvoted by the weeks before it.
    """
    by_minute: list[list[_Run]] = [[] for _ in range(DAY_MINUTES)]
    for run in runs:
        by_minute[int(run.minute) % DAY_MINUTES].append(run)
    counts = [len(bucket) for bucket in by_minute]
    weights = _window_sums(counts, INTRADAY_PEAK_HALF_WIDTH, 0, DAY_MINUTES - 1)
    centers: list[int] = []
    while len(centers) < INTRADAY_MAX_SLOTS:
        weight = max(weights)
        if weight < max(MIN_INTRADAY_DAYS, INTRADAY_PEAK_SHARE * len(active_days)):
            break
        peak = weights.index(weight)
        members: list[_Run] = []
        for offset in range(-INTRADAY_MEMBER_MINUTES, INTRADAY_MEMBER_MINUTES + 1):
            minute = (peak + offset) % DAY_MINUTES
            members.extend(by_minute[minute])
            by_minute[minute] = []
            counts[minute] = 0
        # Only the window sums that overlapped the emptied minutes change.
        reach = INTRADAY_MEMBER_MINUTES + INTRADAY_PEAK_HALF_WIDTH
        changed = _window_sums(counts, INTRADAY_PEAK_HALF_WIDTH, peak - reach, peak + reach)
        for offset, value in enumerate(changed):
            weights[(peak - reach + offset) % DAY_MINUTES] = value
        days = {run.day for run in members}
        days_since = len(active_days) - bisect_left(active_days, min(days))
        if len(days) >= max(MIN_INTRADAY_DAYS, INTRADAY_SLOT_COVERAGE * days_since):
            centers.append(_round_to_mark(peak + _median([_wrap(run.minute - peak) for run in members])))
    return centers


def _nearest_centers(centers: list[int]) -> list[int]:
    """For every minute of the day, the nearest of the sorted ``centers`` on the circular clock."""
    table = [0] * DAY_MINUTES
    for index, center in enumerate(centers):
        following = centers[(index + 1) % len(centers)]
        gap = (following - center) % DAY_MINUTES or DAY_MINUTES
        for step in range(gap):
            table[(center + step) % DAY_MINUTES] = center if 2 * step <= gap else following
    return table


def _active_local_days(instants: list[datetime], tz: ZoneInfo) -> list[date]:
    """The local dates with at least one of the sorted instants, converting one instant per date."""
    days: list[date] = []
    index = 0
    while index < len(instants):
        day = instants[index].astimezone(tz).date()
        days.append(day)
        next_midnight_at = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
        index = bisect_left(instants, next_midnight_at, index + 1)
    return days


def _drop_retries(runs: list[_Run]) -> list[_Run]:
    """Keep the first run of each group of runs less than three hours after the group's first run."""
    kept: list[_Run] = []
    for run in runs:
        if kept and run.at - kept[-1].at < RETRY_WINDOW:
            continue
        kept.append(run)
    return kept


def _change_start(minutes: list[float]) -> int:
    """Index of the first run of the newest consistent stretch when the time of day changed, else 0.

    The threshold adapts to the job's own night-to-night variation so that a job with loose times
    is not cut into pieces by a few late nights.
    """
    count = len(minutes)
    if count < CHANGE_RUN_LENGTH + 1:
        return 0
    steps = [_circular_distance(a, b) for a, b in zip(minutes, minutes[1:], strict=False)]
    # The median night-to-night step of a normal distribution is about 0.954 sigma.
    sigma = _median(steps) / 0.954
    limit = max(CHANGE_MIN_MINUTES, 4 * sigma)
    reference = _circular_medoid(minutes[-CHANGE_REFERENCE_RUNS:])
    inside = [_circular_distance(value, reference) <= limit for value in minutes]
    inside_before = list(accumulate(inside, initial=0))
    start = count
    outside_run = 0
    for index in range(count - 1, -1, -1):
        if inside[index]:
            start = index
            outside_run = 0
            continue
        outside_run += 1
        if outside_run < CHANGE_RUN_LENGTH or start == count:
            continue
        # Only a cut where the older runs are mostly at another time and the newer ones mostly at
        # the new time is a change; manual runs between a monthly job's runs are neither.
        inside_after = inside_before[count] - inside_before[start]
        if not (inside_before[start] < 0.5 * start and inside_after >= 2
                and inside_after >= 0.5 * (count - start)):
            continue
        # A job whose time changed hardly runs at the old time any more; if it still does, the
        # recent odd runs were extras (manual runs between a monthly job's runs), not a new schedule.
        old_reference = _circular_medoid(minutes[max(0, start - CHANGE_REFERENCE_RUNS):start])
        at_old_time = sum(1 for value in minutes[start:] if _circular_distance(value, old_reference) <= limit)
        if at_old_time <= CHANGE_OLD_TIME_SHARE * (count - start):
            return start
    return 0


def _assign_nights(runs: list[_Run], center: int, tz: ZoneInfo) -> list[_Night]:
    """Give each run to the night whose scheduled time is nearest; keep the nearest run per night."""
    by_night: dict[date, _Night] = {}
    for run in runs:
        wall_deviation = _wrap(run.minute - center)
        if abs(wall_deviation) > INLIER_MINUTES:
            continue
        shift = round((run.minute - wall_deviation - center) / DAY_MINUTES)
        night = run.day + timedelta(days=shift) if shift else run.day
        deviation = wall_deviation
        if _near_transition(night, tz):
            deviation = _real_deviation(run.at, night, center, tz)
        current = by_night.get(night)
        if current is None or abs(deviation) < abs(current.deviation):
            by_night[night] = _Night(night=night, run=run, deviation=deviation)
    return [by_night[night] for night in sorted(by_night)]


def _select_weekdays(hit_days: set[date], first: date, last: date) -> list[int]:
    """Weekdays the job runs on, from how many of each weekday's dates between first and last ran.

    Weekdays with most of their dates covered are in. A weekday below that, but with at least as
    many runs as misses, is still in when its misses are what the job's own skip rate makes likely
    (a young daily job that skipped one of two Sundays), judged with a binomial tail; a weekday that
    ran every other week is not.
    """
    opportunities = _weekday_counts(first, last)
    hits = [0] * 7
    for day in hit_days:
        hits[day.weekday()] += 1
    core = [
        weekday for weekday in range(7)
        if opportunities[weekday]
        and hits[weekday] >= WEEKDAY_COVERAGE * opportunities[weekday]
        and hits[weekday] >= min(MIN_RUNS_PER_WEEKDAY, opportunities[weekday])
    ]
    if not core:
        return []
    core_hits = sum(hits[weekday] for weekday in core)
    core_opportunities = sum(opportunities[weekday] for weekday in core)
    skip_rate = min(0.5, max(MIN_SKIP_RATE, 1 - core_hits / core_opportunities))
    selected = list(core)
    for weekday in range(7):
        misses = opportunities[weekday] - hits[weekday]
        if weekday in core or hits[weekday] == 0 or misses > hits[weekday]:
            continue
        if _binomial_tail(opportunities[weekday], misses, skip_rate) >= PLAUSIBLE_MISSES:
            selected.append(weekday)
    return sorted(selected)


def _binomial_tail(trials: int, at_least: int, probability: float) -> float:
    """P(X >= at_least) for X ~ Binomial(trials, probability)."""
    return sum(
        math.comb(trials, k) * probability**k * (1 - probability) ** (trials - k)
        for k in range(at_least, trials + 1)
    )


def _tolerance(deviations: Sequence[float], cap: float) -> int:
    """Half-width of the window from the spread of the deviations, rounded up to 5 minutes."""
    floor = min(TOLERANCE_FLOOR, cap)
    if not deviations:
        return int(floor)
    ordered = sorted(deviations)
    middle = _quantile(ordered, 0.5)
    mad = _quantile(sorted(abs(value - middle) for value in ordered), 0.5)
    # A fence drops the odd manual run hours away, which would otherwise widen every window.
    fence = max(60.0, 5 * 1.4826 * mad)
    core = [value for value in ordered if abs(value - middle) <= fence] or ordered
    spread = max(middle - _quantile(core, 0.025), _quantile(core, 0.975) - middle)
    # Few runs say little about the tails, so the margin grows when the evidence is thin.
    factor = 1.25 if len(core) >= 20 else 1.5
    tolerance = 5 * math.ceil((spread * factor + TOLERANCE_MARGIN) / 5)
    return int(min(cap, max(floor, tolerance)))


# --------------------------------------------------------------------------------------------------
# Calendar and clock helpers


def _schedule_runs_on(schedule: LearnedSchedule, day: date) -> bool:
    if schedule.kind == "monthly":
        if schedule.nth_weekday is not None and _nth_matches(day, schedule.nth_weekday):
            return True
        return _day_matches(day, schedule.days_of_month)
    weekdays = schedule.weekdays if schedule.weekdays else range(7)
    return day.weekday() in weekdays


def _day_matches(day: date, days_of_month: Sequence[int]) -> bool:
    return day.day in days_of_month or (-1 in days_of_month and _is_last_day(day))


def _nth_matches(day: date, nth: Sequence[int]) -> bool:
    n, weekday = nth
    if day.weekday() != weekday:
        return False
    if n == -1:
        return _is_last_weekday(day)
    return (day.day - 1) // 7 + 1 == n


def _is_last_day(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _is_last_weekday(day: date) -> bool:
    return day.day + 7 > calendar.monthrange(day.year, day.month)[1]


def _candidate_dates(key: tuple[str, int, int], first: date, last: date) -> list[date]:
    """Dates between first and last (inclusive) on which a monthly candidate rule falls."""
    rule, value, weekday = key
    dates: list[date] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        length = calendar.monthrange(year, month)[1]
        day: date | None = None
        if rule == "day":
            if value == -1:
                day = date(year, month, length)
            elif value <= length:
                day = date(year, month, value)
        else:
            first_weekday = (weekday - date(year, month, 1).weekday()) % 7 + 1
            if value == -1:
                day = date(year, month, first_weekday + 7 * ((length - first_weekday) // 7))
            elif first_weekday + 7 * (value - 1) <= length:
                day = date(year, month, first_weekday + 7 * (value - 1))
        if day is not None and first <= day <= last:
            dates.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dates


def _weekday_counts(first: date, last: date) -> list[int]:
    total = (last - first).days + 1
    if total <= 0:
        return [0] * 7
    base, extra = divmod(total, 7)
    start = first.weekday()
    return [base + (1 if (weekday - start) % 7 < extra else 0) for weekday in range(7)]


def _weekday_dates(weekday: int, first: date, last: date) -> list[date]:
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    dates: list[date] = []
    while day <= last:
        dates.append(day)
        day += timedelta(days=7)
    return dates


def _local_instants(day: date, minutes: int, tz: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    """(slot_at, earliest_at, latest_at) in UTC for wall time ``minutes`` on local ``day``.

    Normally all three are the same instant. In a spring-forward gap the slot is the first instant
    after the gap and the latest is where the wall time would have been on the old offset; when the
    wall time occurs twice, the slot is the first occurrence and the latest the second.
    """
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    first_at = wall.replace(tzinfo=tz).astimezone(UTC)
    second_at = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first_at == second_at:
        return first_at, first_at, first_at
    if first_at.astimezone(tz).replace(tzinfo=None) == wall:
        return first_at, first_at, max(first_at, second_at)
    # In a gap fold=1 reads the wall time with the new offset (an instant before the change) and
    # fold=0 with the old one (after it); the change itself lies between the two.
    low, high = min(first_at, second_at), max(first_at, second_at)
    after_offset = high.astimezone(tz).utcoffset()
    while (high - low) > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high, high, max(first_at, second_at)


def _near_transition(night: date, tz: ZoneInfo) -> bool:
    """Whether the UTC offset may change between the evening of ``night`` and the morning after."""
    return night in _nights_near_transitions(tz, night.year)


@lru_cache(maxsize=256)
def _nights_near_transitions(tz: ZoneInfo, year: int) -> frozenset[date]:
    """Nights of ``year`` within a day or two of an offset change (sampled at noon, so ± a day)."""
    day = date(year, 1, 1) - timedelta(days=3)
    end = date(year + 1, 1, 1) + timedelta(days=3)
    previous = datetime.combine(day - timedelta(days=1), time(12)).replace(tzinfo=tz).utcoffset()
    nights: set[date] = set()
    while day < end:
        offset = datetime.combine(day, time(12)).replace(tzinfo=tz).utcoffset()
        if offset != previous:
            nights.update(day + timedelta(days=shift) for shift in (-2, -1, 0, 1))
        previous = offset
        day += timedelta(days=1)
    return frozenset(night for night in nights if night.year == year)


def _real_deviation(run_at: datetime, night: date, center: int, tz: ZoneInfo) -> float:
    """Minutes between a run and its slot's window on a DST night (0 inside the widened window)."""
    _slot_at, early_at, late_at = _local_instants(night, center, tz)
    if run_at < early_at:
        return (run_at - early_at).total_seconds() / 60
    if run_at > late_at:
        return (run_at - late_at).total_seconds() / 60
    return 0.0


def _to_local(run_at: datetime, tz: ZoneInfo) -> _Run:
    local = run_at.astimezone(tz)
    return _Run(at=run_at, day=local.date(), minute=local.hour * 60 + local.minute + local.second / 60)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _parse_hhmm(value: str) -> int:
    try:
        hours_text, minutes_text = value.split(":")
        hours, minutes = int(hours_text), int(minutes_text)
    except (AttributeError, ValueError):
        raise ValueError(f"time must be HH:MM, got {value!r}") from None
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"time must be HH:MM, got {value!r}")
    return hours * 60 + minutes


def _other_side_of_midnight(center: int) -> int | None:
    if center >= DAY_MINUTES - MIDNIGHT_AMBIGUITY_MINUTES:
        return 0
    if center <= MIDNIGHT_AMBIGUITY_MINUTES:
        return DAY_MINUTES - TIME_MARK_MINUTES
    return None


def _round_to_mark(minutes: float) -> int:
    """The 5-minute mark a typical run time belongs to.

    Runs start at or a little after their configured time, rarely before it, so a time up to three
    minutes past a mark belongs to that mark (22:02:30 is 22:00, 23:58 is 00:00).
    """
    mark = TIME_MARK_MINUTES * math.floor((minutes % DAY_MINUTES + MARK_EARLY_MINUTES) / TIME_MARK_MINUTES)
    return int(mark) % DAY_MINUTES


def _format_hhmm(minutes: int) -> str:
    minutes %= DAY_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --------------------------------------------------------------------------------------------------
# Circular statistics on minutes of the day


def _wrap(minutes: float) -> float:
    """A difference of minutes of day, brought into [-720, 720)."""
    return (minutes + DAY_MINUTES / 2) % DAY_MINUTES - DAY_MINUTES / 2


def _circular_distance(a: float, b: float) -> float:
    return abs(_wrap(a - b))


def _window_sums(counts: list[int], half_width: int, first: int, last: int) -> list[int]:
    """For minutes first..last (may run past midnight), the counts within ± half_width (circular)."""
    values = [counts[minute % DAY_MINUTES] for minute in range(first - half_width, last + half_width + 1)]
    prefix = list(accumulate(values, initial=0))
    width = 2 * half_width + 1
    return [high - low for low, high in zip(prefix, prefix[width:], strict=False)]


def _circular_center(minutes: list[float]) -> int:
    """The usual time of day on a 5-minute mark: the densest hour, refined by the median nearby.

    Schedulers are set to round times and runs start a little after them, so the mark is both what
    the operator configured and stable from one day's learning to the next.
    """
    ordered = sorted(value % DAY_MINUTES for value in minutes)
    count = len(ordered)
    extended = ordered + [value + DAY_MINUTES for value in ordered]
    width = 2 * CENTER_PEAK_HALF_WIDTH
    best_start, best_count, end = 0, 0, 0
    for start in range(count):
        end = max(end, start)
        while end + 1 < start + count and extended[end + 1] - extended[start] <= width:
            end += 1
        if end - start + 1 > best_count:
            best_start, best_count = start, end - start + 1
    peak = extended[best_start + best_count // 2]
    near = [_wrap(value - peak) for value in ordered if _circular_distance(value, peak) <= CENTER_NEAR_MINUTES]
    return _round_to_mark(peak + _median(near))


def _circular_medoid(minutes: list[float]) -> float:
    return min(minutes, key=lambda value: sum(_circular_distance(value, other) for other in minutes))


def _median(values: Sequence[float]) -> float:
    return _quantile(sorted(values), 0.5) if values else 0.0


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted sequence."""
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --------------------------------------------------------------------------------------------------
# Wording


def describe_weekdays(weekdays: Sequence[int]) -> str:
    """ "every day", "Monday to Friday", "Monday, Wednesday and Friday", "every Sunday"."""
    days = sorted(set(weekdays))
    if len(days) == 7 or not days:
        return "every day"
    if len(days) == 1:
        return f"every {WEEKDAY_NAMES[days[0]]}"
    # Start after a gap so that Saturday to Monday reads as one range.
    start = next(index for index in range(len(days)) if (days[index] - 1) % 7 not in days)
    rotated = days[start:] + days[:start]
    groups: list[list[int]] = [[rotated[0]]]
    for weekday in rotated[1:]:
        if weekday == (groups[-1][-1] + 1) % 7:
            groups[-1].append(weekday)
        else:
            groups.append([weekday])
    parts: list[str] = []
    for group in groups:
        if len(group) >= 3:
            parts.append(f"{WEEKDAY_NAMES[group[0]]} to {WEEKDAY_NAMES[group[-1]]}")
        else:
            parts.extend(WEEKDAY_NAMES[weekday] for weekday in group)
    return _join_words(parts)


def _describe_month_days(schedule: LearnedSchedule) -> str:
    if schedule.nth_weekday is not None:
        n, weekday = schedule.nth_weekday
        return f"on the {ORDINALS[n]} {WEEKDAY_NAMES[weekday]} of the month"
    plain = [str(day) for day in schedule.days_of_month if day != -1]
    words = plain + (["the last day"] if -1 in schedule.days_of_month else [])
    prefix = f"{_plural(len(plain), 'day')} " if plain else ""
    return f"on {prefix}{_join_words(words)} of the month"


def _join_words(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"
