"""Schedule learning and slot evaluation (services/schedules.py): pure functions, no app needed."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.app.services.schedules import (
    ExpectedSlot,
    LearnedSchedule,
    describe_weekdays,
    expected_slots,
    infer_schedule,
    match_runs_to_slots,
    slot_status,
)

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]
WORKDAYS = [0, 1, 2, 3, 4]


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, fold: int = 0) -> datetime:
    """A local wall time as a UTC instant (fold/gap semantics of PEP 495)."""
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def nightly(
    tz: ZoneInfo, first: date, days: int, hour: int, minute: int, *, weekdays: Iterable[int] = EVERY_DAY,
    jitter: float = 0.0, skip: Iterable[date] = (), seed: int = 1,
) -> list[datetime]:
    """One run per selected day at a local time, up to ``jitter`` minutes late."""
    rng = random.Random(seed)
    allowed, skipped = set(weekdays), set(skip)
    runs = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() in allowed and day not in skipped:
            runs.append(at(tz, day.year, day.month, day.day, hour, minute) + timedelta(minutes=rng.uniform(0, jitter)))
    return runs


def slot(slot_at: datetime, tolerance: int = 15) -> ExpectedSlot:
    return ExpectedSlot(
        slot_at=slot_at, window_start_at=slot_at - timedelta(minutes=tolerance),
        window_end_at=slot_at + timedelta(minutes=tolerance), local_date=slot_at.date(),
        local_time=f"{slot_at:%H:%M}",
    )


# --------------------------------------------------------------------------------------------------
# Kinds


def test_daily_every_day() -> None:
    runs = nightly(AMS, date(2026, 5, 1), 60, 22, 0, jitter=4)
    schedule = infer_schedule(runs, AMS)
    assert schedule.to_dict() == {
        "kind": "daily", "weekdays": EVERY_DAY, "days_of_month": [], "nth_weekday": None, "times": ["22:00"],
        "tolerance_minutes": 15, "runs_used": 60,
    }
    assert schedule.since_at == runs[0]


def test_daily_monday_to_friday_with_evidence() -> None:
    runs = nightly(AMS, date(2026, 6, 1), 63, 22, 0, weekdays=WORKDAYS, jitter=3)
    schedule = infer_schedule(runs, AMS)
    assert schedule.kind == "daily"
    assert schedule.weekdays == WORKDAYS
    assert schedule.runs_used == 45
    assert schedule.evidence_text(AMS) == (
        "learned from 45 runs since 2026-06-01: Monday to Friday around 22:00 (± 15 min)"
    )


def test_weekly_monday_and_thursday() -> None:
    runs = nightly(NY, date(2026, 1, 5), 84, 20, 30, weekdays=[0, 3], jitter=2)
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("weekly", [0, 3], ["20:30"])
    assert schedule.runs_used == 24
    assert schedule.evidence_text(NY).endswith(": Monday and Thursday around 20:30 (± 15 min)")


def test_weekly_single_day() -> None:
    runs = nightly(AMS, date(2026, 1, 3), 70, 9, 0, weekdays=[5])
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("weekly", [5], ["09:00"])
    assert schedule.describe() == "every Saturday around 09:00 (± 15 min)"


def test_monthly_first_sunday() -> None:
    first_sundays = [date(2026, m, d) for m, d in ((1, 4), (2, 1), (3, 1), (4, 5), (5, 3), (6, 7))]
    runs = [at(AMS, d.year, d.month, d.day, 3, 0) + timedelta(minutes=2) for d in first_sundays]
    schedule = infer_schedule(runs, AMS)
    assert schedule.to_dict() == {
        "kind": "monthly", "weekdays": [], "days_of_month": [], "nth_weekday": [1, 6], "times": ["03:00"],
        "tolerance_minutes": 15, "runs_used": 6,
    }
    assert schedule.describe() == "on the first Sunday of the month around 03:00 (± 15 min)"
    slots = expected_slots(schedule, utc(2026, 7, 1, 0), utc(2026, 9, 1, 0), AMS)
    assert [s.local_date for s in slots] == [date(2026, 7, 5), date(2026, 8, 2)]
    assert slots[0].slot_at == utc(2026, 7, 5, 1, 0)  # 03:00 CEST


def test_monthly_day_of_month() -> None:
    runs = [at(NY, 2026, month, 1, 23, 0) for month in range(1, 8)]
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.days_of_month, schedule.nth_weekday) == ("monthly", [1], None)
    assert schedule.describe() == "on day 1 of the month around 23:00 (± 15 min)"


def test_monthly_last_day_across_leap_february() -> None:
    ends = [date(2027, 11, 30), date(2027, 12, 31), date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]
    runs = [at(AMS, d.year, d.month, d.day, 21, 0) for d in ends]
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.days_of_month, schedule.times) == ("monthly", [-1], ["21:00"])
    assert schedule.describe() == "on the last day of the month around 21:00 (± 15 min)"
    slots = expected_slots(schedule, utc(2028, 4, 1, 0), utc(2029, 3, 1, 0), AMS)
    assert [s.local_date for s in slots][:3] == [date(2028, 4, 30), date(2028, 5, 31), date(2028, 6, 30)]
    assert slots[-1].local_date == date(2029, 2, 28)
    assert len(slots) == 11


def test_monthly_day_31_is_not_the_last_day() -> None:
    """A job that only ran on the 31st (not on the 30th of shorter months) is "day 31"."""
    runs = [at(AMS, 2026, month, 31, 4, 0) for month in (1, 3, 5, 7, 8)]
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.days_of_month) == ("monthly", [31])
    slots = expected_slots(schedule, utc(2026, 9, 1, 0), utc(2027, 3, 1, 0), AMS)
    assert [s.local_date for s in slots] == [date(2026, 10, 31), date(2026, 12, 31), date(2027, 1, 31)]


def test_monthly_day_29_only_in_leap_february() -> None:
    schedule = LearnedSchedule.manual("monthly", days_of_month=[29], times=["01:00"])
    leap = expected_slots(schedule, utc(2028, 2, 1, 0), utc(2028, 3, 1, 0), AMS)
    assert [s.local_date for s in leap] == [date(2028, 2, 29)]
    assert expected_slots(schedule, utc(2027, 2, 1, 0), utc(2027, 3, 1, 0), AMS) == []


def test_learned_monthly_day_29_skips_february() -> None:
    days = [date(2027, 10, 29), date(2027, 11, 29), date(2027, 12, 29), date(2028, 1, 29),
            date(2028, 2, 29), date(2028, 3, 29)]
    schedule = infer_schedule([at(NY, d.year, d.month, d.day, 2, 0) for d in days], NY)
    assert (schedule.kind, schedule.days_of_month, schedule.runs_used) == ("monthly", [29], 6)


def test_intraday_every_four_hours() -> None:
    rng = random.Random(4)
    runs = [
        at(AMS, 2026, 4, 1, 0, 0) + timedelta(days=day, hours=hour, minutes=rng.uniform(0, 3))
        for day in range(30) for hour in range(0, 24, 4)
    ]
    schedule = infer_schedule(runs, AMS)
    assert schedule.kind == "intraday"
    assert schedule.times == ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"]
    assert schedule.weekdays == EVERY_DAY
    assert schedule.tolerance_minutes == 15
    assert schedule.describe() == "every day at 00:00, 04:00, 08:00, 12:00, 16:00 and 20:00 (± 15 min)"


def test_intraday_business_hours_on_workdays() -> None:
    runs = [
        at(NY, 2026, 6, 1, hour, 0) + timedelta(days=day)
        for day in range(28) if (date(2026, 6, 1) + timedelta(days=day)).weekday() < 5
        for hour in (8, 10, 12, 14, 16, 18)
    ]
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.weekdays) == ("intraday", WORKDAYS)
    assert schedule.times == ["08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
    slots = expected_slots(schedule, at(NY, 2026, 6, 29, 0, 0), at(NY, 2026, 6, 30, 0, 0), NY)
    assert [s.local_time for s in slots] == schedule.times
    assert slots[0].slot_at == utc(2026, 6, 29, 12)  # 08:00 EDT


def test_too_few_runs_is_irregular() -> None:
    runs = nightly(AMS, date(2026, 5, 1), 3, 22, 0)
    schedule = infer_schedule(runs, AMS)
    assert schedule.to_dict() == {
        "kind": "irregular", "weekdays": [], "days_of_month": [], "nth_weekday": None, "times": [],
        "tolerance_minutes": 0, "runs_used": 3,
    }
    assert schedule.evidence_text() == "no regular schedule found in 3 runs"
    assert expected_slots(schedule, utc(2026, 5, 1, 0), utc(2026, 6, 1, 0), AMS) == []


def test_no_runs_is_irregular() -> None:
    assert infer_schedule([], AMS).to_dict()["kind"] == "irregular"
    assert infer_schedule([], AMS).runs_used == 0


def test_random_runs_are_irregular() -> None:
    rng = random.Random(7)
    start = utc(2026, 1, 1, 0)
    runs = [start + timedelta(days=day, minutes=rng.randrange(1440)) for day in range(120) if rng.random() < 0.4]
    assert infer_schedule(runs, AMS).kind == "irregular"


def test_weekly_job_with_frequent_retries_is_not_intraday() -> None:
    fridays = nightly(AMS, date(2026, 3, 6), 56, 1, 0, weekdays=[4])
    retries = [run_at + timedelta(minutes=100) for run_at in fridays[::2]]
    retries += [run_at + timedelta(minutes=104) for run_at in fridays[1::4]]
    schedule = infer_schedule(fridays + retries, AMS)
    assert (schedule.kind, schedule.weekdays, schedule.times, schedule.runs_used) == ("weekly", [4], ["01:00"], 8)


def test_a_few_runs_on_the_same_date_among_random_ones_are_not_monthly() -> None:
    """Three runs on the 25th out of five months is a coincidence, not a monthly schedule."""
    on_the_25th = [at(AMS, 2026, month, 25, 4, 10) for month in (1, 3, 5)]
    others = [at(AMS, 2026, 2, 3, 13, 0), at(AMS, 2026, 4, 17, 8, 20), at(AMS, 2026, 5, 29, 19, 45)]
    assert infer_schedule(on_the_25th + others, AMS).kind == "irregular"
    every_month = [at(AMS, 2026, month, 25, 4, 10) for month in range(1, 6)]
    assert infer_schedule(every_month + others, AMS).days_of_month == [25]


def test_every_other_week_is_not_weekly() -> None:
    runs = [at(AMS, 2026, 1, 5, 22, 0) + timedelta(weeks=2 * n) for n in range(7)]
    assert infer_schedule(runs, AMS).kind == "irregular"


# --------------------------------------------------------------------------------------------------
# Noise: skipped, retried, late and early runs, changed schedules, midnight


def test_skipped_nights_keep_a_daily_job_daily() -> None:
    skipped = [date(2026, 3, 10), date(2026, 3, 25)]
    runs = nightly(NY, date(2026, 3, 1), 45, 1, 0, skip=skipped, jitter=5)
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("daily", EVERY_DAY, ["01:00"])
    assert schedule.runs_used == 43


def test_a_young_job_that_skipped_one_of_two_sundays_still_runs_on_sunday() -> None:
    runs = nightly(AMS, date(2026, 5, 4), 14, 21, 0, skip=[date(2026, 5, 10)])
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.weekdays) == ("daily", EVERY_DAY)


def test_retries_of_the_same_night_count_once() -> None:
    nights = nightly(AMS, date(2026, 5, 1), 30, 22, 0)
    retries = [run_at + timedelta(minutes=40) for run_at in nights[::3]]
    retries += [run_at + timedelta(minutes=150) for run_at in nights[1::5]]
    schedule = infer_schedule(nights + retries, AMS)
    assert (schedule.kind, schedule.times, schedule.runs_used) == ("daily", ["22:00"], 30)
    assert schedule.tolerance_minutes == 15


def test_late_and_early_runs_widen_the_window_without_moving_the_time() -> None:
    runs = nightly(AMS, date(2026, 5, 1), 60, 22, 0)
    runs[10] += timedelta(minutes=35)
    runs[20] += timedelta(minutes=25)
    runs[30] -= timedelta(minutes=20)
    runs[40] += timedelta(minutes=30)
    schedule = infer_schedule(runs, AMS)
    assert schedule.times == ["22:00"]
    assert 30 <= schedule.tolerance_minutes <= 60
    # Learned windows cover every run seen, so none of these nights would have been reported missed.
    slots = expected_slots(schedule, runs[0] - timedelta(hours=1), runs[-1] + timedelta(hours=1), AMS)
    assert len(slots) == 60
    assert all(run_at is not None for _slot, run_at in match_runs_to_slots(slots, runs))


def test_changed_schedule_is_learned_from_the_recent_runs() -> None:
    """22:00 for 60 days, then 01:00 for 20 days: the job now runs at 01:00."""
    old = nightly(AMS, date(2026, 1, 1), 60, 22, 0, jitter=5)
    new = nightly(AMS, date(2026, 3, 3), 20, 1, 0, jitter=5, seed=2)
    schedule = infer_schedule(old + new, AMS)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("daily", EVERY_DAY, ["01:00"])
    assert schedule.runs_used == 20
    assert schedule.since_at == new[0]


def test_a_schedule_changed_two_nights_ago_expects_nothing_yet() -> None:
    old = nightly(AMS, date(2026, 1, 1), 60, 22, 0)
    new = nightly(AMS, date(2026, 3, 3), 2, 4, 0)
    schedule = infer_schedule(old + new, AMS)
    assert (schedule.kind, schedule.runs_used) == ("irregular", 2)


def test_changed_weekdays_every_day_to_workdays() -> None:
    old = nightly(NY, date(2026, 1, 1), 60, 23, 0)
    new = nightly(NY, date(2026, 3, 2), 35, 23, 0, weekdays=WORKDAYS)
    schedule = infer_schedule(old + new, NY)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("daily", WORKDAYS, ["23:00"])


def test_changed_weekly_day() -> None:
    old = nightly(AMS, date(2026, 1, 5), 56, 20, 0, weekdays=[0])
    new = nightly(AMS, date(2026, 3, 2), 35, 20, 0, weekdays=[2])
    schedule = infer_schedule(old + new, AMS)
    assert (schedule.kind, schedule.weekdays) == ("weekly", [2])


def test_a_manual_run_at_another_time_is_ignored() -> None:
    runs = nightly(AMS, date(2026, 5, 1), 40, 22, 0)
    runs += [at(AMS, 2026, 5, 12, 14, 3), at(AMS, 2026, 5, 23, 10, 41)]
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.times, schedule.tolerance_minutes) == ("daily", ["22:00"], 15)


def test_near_midnight_runs_are_one_daily_time() -> None:
    """A 23:55 job that often starts after midnight is one daily job, not two half-filled days."""
    rng = random.Random(3)
    runs = [
        at(AMS, 2026, 5, 1, 23, 55) + timedelta(days=day, minutes=rng.uniform(-5, 15)) for day in range(60)
    ]
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.weekdays) == ("daily", EVERY_DAY)
    assert schedule.times in (["23:55"], ["00:00"])
    assert schedule.tolerance_minutes <= 30


def test_near_midnight_workday_job_keeps_its_weekdays() -> None:
    """Friday's 23:55 run landing at 00:05 on Saturday still belongs to Friday night."""
    runs = []
    for offset in range(56):
        day = date(2026, 6, 1) + timedelta(days=offset)
        if day.weekday() < 5:
            late = 10 if offset % 3 == 0 else offset % 3
            runs.append(at(AMS, day.year, day.month, day.day, 23, 55) + timedelta(minutes=late))
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.weekdays, schedule.times) == ("daily", WORKDAYS, ["23:55"])
    slots = expected_slots(schedule, at(AMS, 2026, 7, 27, 0, 0), at(AMS, 2026, 8, 3, 0, 0), AMS)
    assert [s.local_date.weekday() for s in slots] == WORKDAYS


def test_runs_after_now_are_ignored_and_the_look_back_applies() -> None:
    old_weekly = nightly(AMS, date(2025, 6, 2), 120, 20, 0, weekdays=[0])
    recent_daily = nightly(AMS, date(2026, 1, 1), 40, 22, 0)
    future = nightly(AMS, date(2026, 3, 1), 10, 5, 0)
    schedule = infer_schedule(old_weekly + recent_daily + future, AMS, now_at=utc(2026, 2, 10, 12))
    assert (schedule.kind, schedule.times, schedule.runs_used) == ("daily", ["22:00"], 40)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        infer_schedule([datetime(2026, 1, 1, 22, 0)], AMS)  # noqa: DTZ001


# --------------------------------------------------------------------------------------------------
# Daylight saving


def test_dst_0230_job_on_spring_forward_night_amsterdam() -> None:
    """02:30 does not exist on 2026-03-29 in Amsterdam; that night's run is still that night's."""
    runs = nightly(AMS, date(2026, 3, 1), 45, 2, 30)
    spring_run = at(AMS, 2026, 3, 29, 2, 30)
    assert spring_run == utc(2026, 3, 29, 1, 30)  # the scheduler fired at 03:30 CEST
    assert spring_run in runs
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.times, schedule.tolerance_minutes) == ("daily", ["02:30"], 15)

    slots = expected_slots(schedule, at(AMS, 2026, 3, 28, 12, 0), at(AMS, 2026, 3, 30, 12, 0), AMS)
    gap_slot = next(s for s in slots if s.local_date == date(2026, 3, 29))
    assert gap_slot.slot_at == utc(2026, 3, 29, 1, 0)  # the instant after the gap: 03:00 CEST
    assert gap_slot.window_start_at == utc(2026, 3, 29, 0, 45)
    assert gap_slot.window_end_at == utc(2026, 3, 29, 1, 45)  # 03:30 CEST + 15 min
    assert [s.slot_at for s in slots if s.local_date != date(2026, 3, 29)] == [utc(2026, 3, 30, 0, 30)]
    matched = dict(match_runs_to_slots(slots, runs))
    assert matched[gap_slot] == spring_run
    assert slot_status(gap_slot, matched[gap_slot], utc(2026, 3, 29, 6), 60) == "done"
    # A scheduler that fires right after the gap (03:00 CEST) is on time as well.
    assert match_runs_to_slots([gap_slot], [utc(2026, 3, 29, 1, 0)])[0][1] == utc(2026, 3, 29, 1, 0)


def test_dst_0230_job_on_spring_forward_night_new_york() -> None:
    runs = nightly(NY, date(2026, 2, 15), 40, 2, 30, jitter=2)
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.times) == ("daily", ["02:30"])
    slots = expected_slots(schedule, at(NY, 2026, 3, 8, 0, 0), at(NY, 2026, 3, 9, 0, 0), NY)
    assert len(slots) == 1
    assert slots[0].slot_at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, just after the gap
    assert slots[0].window_end_at == utc(2026, 3, 8, 7, 30) + timedelta(minutes=schedule.tolerance_minutes)
    run_on_gap_night = next(r for r in runs if r.date() == date(2026, 3, 8))
    assert match_runs_to_slots(slots, runs)[0][1] == run_on_gap_night


def test_dst_0130_job_on_fall_back_night_new_york() -> None:
    """01:30 happens twice on 2026-11-01 in New York: first occurrence expected, either one counts."""
    runs = nightly(NY, date(2026, 10, 1), 31, 1, 30)
    schedule = infer_schedule(runs, NY)
    assert (schedule.kind, schedule.times, schedule.tolerance_minutes) == ("daily", ["01:30"], 15)
    slots = expected_slots(schedule, at(NY, 2026, 11, 1, 0, 0), at(NY, 2026, 11, 2, 0, 0), NY)
    assert len(slots) == 1
    fall_slot = slots[0]
    assert fall_slot.slot_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT (fold=0)
    assert fall_slot.window_end_at == utc(2026, 11, 1, 6, 45)  # 01:30 EST + 15 min
    first, second = at(NY, 2026, 11, 1, 1, 30), at(NY, 2026, 11, 1, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert match_runs_to_slots(slots, [first])[0][1] == first
    assert match_runs_to_slots(slots, [second])[0][1] == second
    assert slot_status(fall_slot, None, utc(2026, 11, 1, 7, 44), 60) == "expected"
    assert slot_status(fall_slot, None, utc(2026, 11, 1, 7, 46), 60) == "missed"


def test_dst_0230_job_on_fall_back_night_amsterdam() -> None:
    runs = nightly(AMS, date(2026, 10, 1), 24, 2, 30)
    runs.append(at(AMS, 2026, 10, 25, 2, 30, fold=1))  # the scheduler chose the second 02:30
    schedule = infer_schedule(runs, AMS)
    assert (schedule.kind, schedule.times, schedule.tolerance_minutes) == ("daily", ["02:30"], 15)
    slots = expected_slots(schedule, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12), AMS)
    assert [s.slot_at for s in slots] == [utc(2026, 10, 25, 0, 30)]  # 02:30 CEST
    assert match_runs_to_slots(slots, runs)[0][1] == utc(2026, 10, 25, 1, 30)  # 02:30 CET


@pytest.mark.parametrize(("tz", "spring", "autumn"), [
    (AMS, date(2026, 3, 29), date(2026, 10, 25)),
    (NY, date(2026, 3, 8), date(2026, 11, 1)),
])
def test_dst_2200_job_keeps_its_local_time_across_both_changes(tz: ZoneInfo, spring: date, autumn: date) -> None:
    runs = nightly(tz, date(2026, 1, 1), 365, 22, 0, jitter=3)
    for change in (spring, autumn):
        # Learned from runs on both sides of the change, the time is still 22:00 with a tight window.
        later = change + timedelta(days=20)
        schedule = infer_schedule(runs, tz, now_at=at(tz, later.year, later.month, later.day, 12, 0))
        assert (schedule.kind, schedule.times, schedule.tolerance_minutes) == ("daily", ["22:00"], 15)
        before, after = change - timedelta(days=1), change + timedelta(days=1)
        slots = expected_slots(schedule, at(tz, before.year, before.month, before.day, 12, 0),
                               at(tz, after.year, after.month, after.day, 12, 0), tz)
        assert [s.slot_at.astimezone(tz).strftime("%H:%M") for s in slots] == ["22:00", "22:00"]
        offsets = [s.slot_at.astimezone(tz).utcoffset() for s in slots]
        assert offsets[0] != offsets[1]
        assert all(run_at is not None for _s, run_at in match_runs_to_slots(slots, runs))


def test_expected_slots_convert_local_time_per_day() -> None:
    schedule = LearnedSchedule.manual("daily", times=["22:00"], tolerance_minutes=20)
    slots = expected_slots(schedule, utc(2026, 3, 27, 0), utc(2026, 3, 31, 0), AMS)
    assert [s.slot_at for s in slots] == [
        utc(2026, 3, 27, 21), utc(2026, 3, 28, 21), utc(2026, 3, 29, 20), utc(2026, 3, 30, 20),
    ]
    assert [s.local_date for s in slots] == [date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29),
                                             date(2026, 3, 30)]
    assert slots[0].window_start_at == utc(2026, 3, 27, 20, 40)
    assert slots[0].window_end_at == utc(2026, 3, 27, 21, 20)


# --------------------------------------------------------------------------------------------------
# Slots, matching and status


def test_expected_slots_weekly_window_is_half_open() -> None:
    schedule = LearnedSchedule.manual("weekly", weekdays=[0, 3], times=["20:00"], tolerance_minutes=15)
    slots = expected_slots(schedule, utc(2026, 6, 1, 18), utc(2026, 6, 8, 18), AMS)
    assert [(s.local_date, s.slot_at) for s in slots] == [
        (date(2026, 6, 1), utc(2026, 6, 1, 18)), (date(2026, 6, 4), utc(2026, 6, 4, 18)),
    ]


def test_match_takes_the_nearest_run_and_each_run_once() -> None:
    first, second = slot(utc(2026, 6, 1, 22)), slot(utc(2026, 6, 2, 22))
    retry = utc(2026, 6, 1, 22, 10)
    on_time = utc(2026, 6, 1, 22, 2)
    pairs = match_runs_to_slots([first, second], [retry, on_time])
    assert pairs == [(first, on_time), (second, None)]


def test_match_never_gives_one_run_to_two_slots() -> None:
    slots = [slot(utc(2026, 6, 1, 10), 40), slot(utc(2026, 6, 1, 11), 40)]
    pairs = match_runs_to_slots(slots, [utc(2026, 6, 1, 10, 35)])
    assert pairs == [(slots[0], None), (slots[1], utc(2026, 6, 1, 10, 35))]
    both = match_runs_to_slots(slots, [utc(2026, 6, 1, 10, 35), utc(2026, 6, 1, 11, 1)])
    assert both == [(slots[0], utc(2026, 6, 1, 10, 35)), (slots[1], utc(2026, 6, 1, 11, 1))]


def test_match_uses_grace_for_late_and_early_runs() -> None:
    expected = slot(utc(2026, 6, 1, 22), 15)
    late = utc(2026, 6, 1, 23, 5)  # 50 minutes after the window
    early = utc(2026, 6, 1, 21, 20)  # 25 minutes before it
    assert match_runs_to_slots([expected], [late]) == [(expected, None)]
    assert match_runs_to_slots([expected], [late], grace_minutes=60) == [(expected, late)]
    assert match_runs_to_slots([expected], [early], grace_minutes=60) == [(expected, early)]
    assert match_runs_to_slots([expected], [utc(2026, 6, 1, 23, 20)], grace_minutes=60) == [(expected, None)]


def test_slot_status_with_grace() -> None:
    expected = slot(utc(2026, 6, 1, 22), 15)
    assert slot_status(expected, utc(2026, 6, 1, 22, 3), utc(2026, 6, 1, 22, 5), 60) == "done"
    assert slot_status(expected, None, utc(2026, 6, 1, 21, 0), 60) == "expected"
    assert slot_status(expected, None, utc(2026, 6, 1, 22, 30), 60) == "expected"
    assert slot_status(expected, None, utc(2026, 6, 1, 23, 15), 60) == "expected"  # exactly at the limit
    assert slot_status(expected, None, utc(2026, 6, 1, 23, 16), 60) == "missed"
    assert slot_status(expected, None, utc(2026, 6, 1, 22, 16), 0) == "missed"


def test_learned_schedule_flags_the_skipped_night_only() -> None:
    skipped = date(2026, 6, 20)
    runs = nightly(AMS, date(2026, 5, 1), 60, 22, 0, skip=[skipped], jitter=5)
    schedule = infer_schedule([r for r in runs if r < utc(2026, 6, 15, 0)], AMS, now_at=utc(2026, 6, 15, 0))
    slots = expected_slots(schedule, utc(2026, 6, 15, 0), utc(2026, 6, 30, 0), AMS)
    now_at = utc(2026, 6, 30, 12)
    statuses = {s.local_date: slot_status(s, run_at, now_at, 60) for s, run_at in match_runs_to_slots(slots, runs, 60)}
    assert len(statuses) == 15
    assert [day for day, status in statuses.items() if status == "missed"] == [skipped]
    assert set(statuses.values()) == {"done", "missed"}


# --------------------------------------------------------------------------------------------------
# Manual schedules, serialisation, wording


def test_manual_schedule_is_evaluated_like_a_learned_one() -> None:
    schedule = LearnedSchedule.manual("weekly", weekdays=[0], times=["22:00"])
    assert schedule.source == "manual"
    assert schedule.tolerance_minutes == 30
    assert schedule.evidence_text() == "set by hand: every Monday at 22:00 (± 30 min)"
    slots = expected_slots(schedule, utc(2026, 6, 1, 0), utc(2026, 6, 15, 0), NY)
    assert [s.slot_at for s in slots] == [utc(2026, 6, 2, 2), utc(2026, 6, 9, 2)]  # Monday 22:00 EDT
    assert [s.local_date for s in slots] == [date(2026, 6, 1), date(2026, 6, 8)]


def test_manual_daily_defaults_to_every_day_and_intraday_keeps_all_times() -> None:
    daily = LearnedSchedule.manual("daily", times=["6:05"])
    assert (daily.weekdays, daily.times) == (EVERY_DAY, ["06:05"])
    intraday = LearnedSchedule.manual("intraday", times=["12:00", "00:00", "06:00"], weekdays=[5, 6])
    assert intraday.times == ["00:00", "06:00", "12:00"]
    slots = expected_slots(intraday, at(AMS, 2026, 6, 6, 0, 0), at(AMS, 2026, 6, 8, 0, 0), AMS)
    assert len(slots) == 6


def test_manual_no_schedule_expects_nothing() -> None:
    none = LearnedSchedule.manual("irregular")
    assert none.evidence_text() == "set by hand: no schedule, nothing is expected"
    assert expected_slots(none, utc(2026, 1, 1, 0), utc(2027, 1, 1, 0), AMS) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "weekly", "times": ["22:00"]}, "weekday"),
    ({"kind": "daily", "times": ["25:00"]}, "HH:MM"),
    ({"kind": "daily", "times": []}, "at least one time"),
    ({"kind": "monthly", "times": ["22:00"]}, "days of the month"),
    ({"kind": "monthly", "times": ["22:00"], "nth_weekday": [6, 0]}, "nth_weekday"),
    ({"kind": "hourly", "times": ["22:00"]}, "unknown schedule kind"),
])
def test_manual_schedule_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LearnedSchedule.manual(**kwargs)


def test_to_dict_and_from_dict_round_trip() -> None:
    runs = nightly(AMS, date(2026, 5, 1), 30, 22, 0)
    schedule = infer_schedule(runs, AMS)
    assert list(schedule.to_dict()) == [
        "kind", "weekdays", "days_of_month", "nth_weekday", "times", "tolerance_minutes", "runs_used",
    ]
    cached = schedule.to_dict(include_meta=True)
    assert cached["since_at"] == "2026-05-01T20:00:00+00:00"
    assert cached["source"] == "learned"
    restored = LearnedSchedule.from_dict(cached)
    assert restored == schedule
    assert restored.evidence_text(AMS) == schedule.evidence_text(AMS)
    plain = LearnedSchedule.from_dict(schedule.to_dict())
    assert plain.since_at is None
    assert plain.evidence_text() == "learned from 30 runs: every day around 22:00 (± 15 min)"
    monthly = LearnedSchedule.manual("monthly", nth_weekday=[-1, 4], times=["23:00"])
    assert LearnedSchedule.from_dict(monthly.to_dict(include_meta=True)) == monthly
    assert monthly.describe() == "on the last Friday of the month at 23:00 (± 30 min)"


@pytest.mark.parametrize(("weekdays", "text"), [
    (EVERY_DAY, "every day"),
    (WORKDAYS, "Monday to Friday"),
    ([0, 2, 4], "Monday, Wednesday and Friday"),
    ([6], "every Sunday"),
    ([5, 6, 0], "Saturday to Monday"),
    ([0, 1, 2, 4], "Monday to Wednesday and Friday"),
    ([1, 2, 3, 4, 5], "Tuesday to Saturday"),
])
def test_describe_weekdays(weekdays: list[int], text: str) -> None:
    assert describe_weekdays(weekdays) == text


def test_describe_days_of_month() -> None:
    schedule = LearnedSchedule.manual("monthly", days_of_month=[15, 1, -1], times=["02:00"], tolerance_minutes=20)
    assert schedule.days_of_month == [1, 15, -1]
    assert schedule.describe() == "on days 1, 15 and the last day of the month at 02:00 (± 20 min)"
    both = LearnedSchedule.manual("monthly", days_of_month=[-1, 1], times=["02:00"])
    assert both.describe() == "on day 1 and the last day of the month at 02:00 (± 30 min)"
