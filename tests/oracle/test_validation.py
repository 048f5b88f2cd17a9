from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from contracts.client import VehicleClass, day_date
from oracle.errors import (
    DayNotEnded,
    DayOutOfOrder,
    DayTooOld,
    DistanceImplausible,
    DistanceMismatch,
    EnergyImplausible,
    MovingTimeImplausible,
    OdometerReversed,
    OdometerRollback,
    ReportRejected,
    SequenceNotIncreasing,
    SpeedImplausible,
)
from oracle.report import DailyReport
from oracle.validation import (
    ODOMETER_GAP,
    LastAccepted,
    Limits,
    check_continuity,
    check_day,
    check_plausibility,
)
from tests.conftest import clock_at

LIMITS = Limits()
TODAY = 20_000
NOW = clock_at(TODAY)()
"""06:00 UTC on TODAY."""


def report(**fields: int) -> DailyReport:
    values = {
        "day": TODAY - 1, "sequence": 5, "odometer_start_m": 1_000, "odometer_end_m": 41_000,
        "distance_m": 40_000, "moving_s": 3_600, "energy_wh": 4_000, "fuel_ml": 0,
    } | fields  # fmt: skip
    return DailyReport(device="0x" + "11" * 20, trace_hash=bytes(32), **values)  # type: ignore[arg-type]


LAST = LastAccepted(day=TODAY - 2, sequence=4, odometer_end_m=1_000)


def reason(check, *args) -> str:
    with pytest.raises(ReportRejected) as caught:
        check(*args)
    return caught.value.code


def test_a_plausible_day_after_the_last_one_passes_every_check() -> None:
    check_day(report(), NOW, LIMITS)
    assert check_continuity(report(), LAST) == []
    check_plausibility(report(), VehicleClass.BATTERY_ELECTRIC, LIMITS)


@pytest.mark.parametrize(("day", "code"), [(TODAY, DayNotEnded.code), (TODAY + 400, DayNotEnded.code),
                                           (TODAY - 31, DayTooOld.code), (0, DayTooOld.code)])  # fmt: skip
def test_a_day_must_be_over_and_recent(day: int, code: str) -> None:
    assert reason(check_day, report(day=day), NOW, LIMITS) == code


def test_the_age_window_is_a_setting() -> None:
    check_day(report(day=TODAY - 30), NOW, LIMITS)
    assert reason(check_day, report(day=TODAY - 30), NOW, Limits(max_report_age_days=29)) == DayTooOld.code


def test_a_device_clock_a_few_minutes_fast_is_tolerated() -> None:
    late_evening = datetime.combine(day_date(TODAY), time(23, 56), UTC)
    check_day(report(day=TODAY), late_evening, LIMITS)  # 4 minutes before midnight: within the 5 allowed
    eleven_minutes_early = datetime.combine(day_date(TODAY), time(23, 49), UTC)
    assert reason(check_day, report(day=TODAY), eleven_minutes_early, LIMITS) == DayNotEnded.code
    assert reason(check_day, report(day=TODAY), late_evening, Limits(clock_skew_seconds=0)) == DayNotEnded.code


def test_the_skew_allowance_does_not_shorten_the_age_window() -> None:
    """At 23:57 a report 30 days old is still within 30 days of today; the message names today."""
    late_evening = datetime.combine(day_date(TODAY), time(23, 57), UTC)
    check_day(report(day=TODAY - 30), late_evening, LIMITS)
    with pytest.raises(DayTooOld, match=f"before today \\({day_date(TODAY).isoformat()} UTC\\)"):
        check_day(report(day=TODAY - 31), late_evening, LIMITS)


def test_the_first_report_of_a_device_only_needs_a_forward_odometer() -> None:
    assert check_continuity(report(odometer_start_m=77), None) == []
    assert reason(check_continuity, report(odometer_start_m=10, odometer_end_m=9), None) == OdometerReversed.code


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"day": TODAY - 3}, DayOutOfOrder.code),
        ({"sequence": 4}, SequenceNotIncreasing.code),
        ({"sequence": 0}, SequenceNotIncreasing.code),
        ({"odometer_start_m": 999, "odometer_end_m": 40_999}, OdometerRollback.code),
        ({"odometer_start_m": 0, "odometer_end_m": 40_000}, OdometerRollback.code),
        ({"odometer_end_m": 999}, OdometerReversed.code),
    ],
    ids=["older-day", "same-sequence", "sequence-zero", "rollback-1m", "reset-to-zero", "reversed"],
)
def test_continuity_with_the_last_accepted_report(fields: dict[str, int], code: str) -> None:
    assert reason(check_continuity, report(**fields), LAST) == code


def test_an_odometer_that_moved_between_reports_is_flagged_not_refused() -> None:
    # A lost report must not block a device for good; the gap is recorded (and the service holds the
    # previous day's car-free claim, which the gap contradicts).
    assert check_continuity(report(odometer_start_m=1_001, odometer_end_m=41_001), LAST) == [ODOMETER_GAP]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"distance_m": 40_000 + 100 + 800 + 1}, DistanceMismatch.code),  # tolerance: 100 m + 2% of 40 km
        ({"distance_m": 0}, DistanceMismatch.code),
        (
            {"odometer_end_m": 1_601_000, "distance_m": 1_600_000, "energy_wh": 160_000, "moving_s": 86_000},
            DistanceImplausible.code,
        ),
        ({"energy_wh": 799}, EnergyImplausible.code),  # 40 km at under 20 Wh/km
        ({"energy_wh": 24_001}, EnergyImplausible.code),  # over 600 Wh/km
        ({"energy_wh": 0}, EnergyImplausible.code),
    ],
    ids=["distance-off", "no-distance-odometer-moved", "1600-km", "too-little-energy", "too-much-energy", "no-energy"],
)
def test_plausibility(fields: dict[str, int], code: str) -> None:
    assert reason(check_plausibility, report(**fields), VehicleClass.BATTERY_ELECTRIC, LIMITS) == code


def test_the_distance_tolerance_and_energy_band_edges_pass() -> None:
    check_plausibility(report(distance_m=40_900), VehicleClass.BATTERY_ELECTRIC, LIMITS)
    check_plausibility(report(energy_wh=800), VehicleClass.BATTERY_ELECTRIC, LIMITS)
    check_plausibility(report(energy_wh=24_000), VehicleClass.BATTERY_ELECTRIC, LIMITS)


def test_an_odometer_that_moved_counts_even_when_the_distance_says_zero() -> None:
    # 100 m on the odometer, 0 m of distance (within tolerance) and no energy: not a free EV day.
    sneaky = report(odometer_end_m=1_100, distance_m=0, energy_wh=0)
    assert reason(check_plausibility, sneaky, VehicleClass.BATTERY_ELECTRIC, LIMITS) == EnergyImplausible.code
    far = report(odometer_end_m=1_000 + 1_530_000, distance_m=1_500_000, energy_wh=200_000, moving_s=86_000)
    assert reason(check_plausibility, far, VehicleClass.BATTERY_ELECTRIC, LIMITS) == DistanceImplausible.code


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"moving_s": 719}, SpeedImplausible.code),  # 40 km in under 12 minutes: over 200 km/h
        ({"moving_s": 0}, MovingTimeImplausible.code),
        ({"moving_s": 86_401}, MovingTimeImplausible.code),
    ],
    ids=["too-fast", "moved-in-no-time", "more-than-a-day"],
)
def test_speed_and_moving_time(fields: dict[str, int], code: str) -> None:
    assert reason(check_plausibility, report(**fields), VehicleClass.BATTERY_ELECTRIC, LIMITS) == code


def test_the_speed_limit_edge_passes() -> None:
    check_plausibility(report(moving_s=720), VehicleClass.BATTERY_ELECTRIC, LIMITS)  # exactly 200 km/h
    check_plausibility(report(odometer_end_m=1_000, distance_m=0, moving_s=0), VehicleClass.PETROL, LIMITS)


def test_energy_is_checked_only_for_an_electric_car_that_moved() -> None:
    check_plausibility(report(energy_wh=0, fuel_ml=3_000), VehicleClass.PETROL, LIMITS)
    parked = report(odometer_end_m=1_000, distance_m=0, energy_wh=0, moving_s=0)
    check_plausibility(parked, VehicleClass.BATTERY_ELECTRIC, LIMITS)


def test_a_day_beyond_the_calendar_is_refused_with_its_number() -> None:
    with pytest.raises(DayNotEnded) as caught:
        check_day(report(day=2**32 - 1), NOW, LIMITS)
    assert (
        caught.value.message == f"the report is for day {2**32 - 1}, which has not ended yet (today is 2024-10-04 UTC)"
    )


def test_the_day_window_follows_the_clock_reading_and_its_time_zone() -> None:
    """The window is cached per clock reading: the same instant read in another time zone is another
    date, and must not be answered from the cache."""
    just_before_midnight = datetime.combine(day_date(TODAY), time(23, 0), UTC)
    check_day(report(day=TODAY - 1), just_before_midnight, LIMITS)
    same_instant_east = just_before_midnight.astimezone(timezone(timedelta(hours=14)))  # already TODAY + 1 there
    assert same_instant_east == just_before_midnight
    check_day(report(day=TODAY), same_instant_east, LIMITS)
    assert reason(check_day, report(day=TODAY), just_before_midnight, LIMITS) == DayNotEnded.code
    for minutes in [*range(0, 24 * 60, 7), 23 * 60 + 55, 23 * 60 + 54]:  # cached or not, as the clock says
        now = datetime.combine(day_date(TODAY), time(minutes // 60, minutes % 60), UTC)
        within_skew_of_midnight = (now + timedelta(seconds=LIMITS.clock_skew_seconds)).date() != now.date()
        open_from = TODAY + 1 if within_skew_of_midnight else TODAY
        assert reason(check_day, report(day=open_from), now, LIMITS) == DayNotEnded.code
        check_day(report(day=open_from - 1), now, LIMITS)
