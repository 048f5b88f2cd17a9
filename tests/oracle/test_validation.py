from __future__ import annotations

import pytest

from contracts.client import VehicleClass
from oracle.errors import (
    DayNotEnded,
    DayOutOfOrder,
    DayTooOld,
    DistanceImplausible,
    DistanceMismatch,
    EnergyImplausible,
    OdometerGap,
    OdometerReversed,
    OdometerRollback,
    ReportRejected,
    SequenceNotIncreasing,
)
from oracle.report import DailyReport
from oracle.validation import LastAccepted, Limits, check_continuity, check_day, check_plausibility

LIMITS = Limits()
TODAY = 20_000


def report(**fields: int) -> DailyReport:
    values = {
        "day": TODAY - 1, "sequence": 5, "odometer_start_m": 1_000, "odometer_end_m": 41_000,
        "distance_m": 40_000, "energy_wh": 4_000, "fuel_ml": 0,
    } | fields  # fmt: skip
    return DailyReport(device="0x" + "11" * 20, trace_hash=bytes(32), **values)  # type: ignore[arg-type]


LAST = LastAccepted(day=TODAY - 2, sequence=4, odometer_end_m=1_000)


def reason(check, *args) -> str:
    with pytest.raises(ReportRejected) as caught:
        check(*args)
    return caught.value.code


def test_a_plausible_day_after_the_last_one_passes_every_check() -> None:
    check_day(report(), TODAY, LIMITS)
    check_continuity(report(), LAST)
    check_plausibility(report(), VehicleClass.BATTERY_ELECTRIC, LIMITS)


@pytest.mark.parametrize(("day", "code"), [(TODAY, DayNotEnded.code), (TODAY + 400, DayNotEnded.code),
                                           (TODAY - 31, DayTooOld.code), (0, DayTooOld.code)])  # fmt: skip
def test_a_day_must_be_over_and_recent(day: int, code: str) -> None:
    assert reason(check_day, report(day=day), TODAY, LIMITS) == code


def test_the_age_window_is_a_setting() -> None:
    check_day(report(day=TODAY - 30), TODAY, LIMITS)
    assert reason(check_day, report(day=TODAY - 30), TODAY, Limits(max_report_age_days=29)) == DayTooOld.code


def test_the_first_report_of_a_device_only_needs_a_forward_odometer() -> None:
    check_continuity(report(odometer_start_m=77), None)
    assert reason(check_continuity, report(odometer_start_m=10, odometer_end_m=9), None) == OdometerReversed.code


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"day": TODAY - 3}, DayOutOfOrder.code),
        ({"sequence": 4}, SequenceNotIncreasing.code),
        ({"sequence": 0}, SequenceNotIncreasing.code),
        ({"odometer_start_m": 999, "odometer_end_m": 40_999}, OdometerRollback.code),
        ({"odometer_start_m": 0, "odometer_end_m": 40_000}, OdometerRollback.code),
        ({"odometer_start_m": 1_001, "odometer_end_m": 41_001}, OdometerGap.code),
        ({"odometer_end_m": 999}, OdometerReversed.code),
    ],
    ids=["older-day", "same-sequence", "sequence-zero", "rollback-1m", "reset-to-zero", "gap-1m", "reversed"],
)
def test_continuity_with_the_last_accepted_report(fields: dict[str, int], code: str) -> None:
    assert reason(check_continuity, report(**fields), LAST) == code


def test_the_odometer_gap_message_says_how_far_the_car_went_unreported() -> None:
    with pytest.raises(OdometerGap) as caught:
        check_continuity(report(odometer_start_m=6_000, odometer_end_m=46_000), LAST)
    assert "5000 m were driven without a report" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"distance_m": 40_000 + 100 + 800 + 1}, DistanceMismatch.code),  # tolerance: 100 m + 2% of 40 km
        ({"distance_m": 0}, DistanceMismatch.code),
        ({"odometer_end_m": 1_601_000, "distance_m": 1_600_000, "energy_wh": 160_000}, DistanceImplausible.code),
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
    far = report(odometer_end_m=1_000 + 1_530_000, distance_m=1_500_000, energy_wh=200_000)
    assert reason(check_plausibility, far, VehicleClass.BATTERY_ELECTRIC, LIMITS) == DistanceImplausible.code


def test_energy_is_checked_only_for_an_electric_car_that_moved() -> None:
    check_plausibility(report(energy_wh=0, fuel_ml=3_000), VehicleClass.PETROL, LIMITS)
    check_plausibility(report(odometer_end_m=1_000, distance_m=0, energy_wh=0), VehicleClass.BATTERY_ELECTRIC, LIMITS)


def test_a_day_beyond_the_calendar_is_refused_with_its_number() -> None:
    with pytest.raises(DayNotEnded) as caught:
        check_day(report(day=2**32 - 1), TODAY, LIMITS)
    assert (
        caught.value.message == f"the report is for day {2**32 - 1}, which has not ended yet (today is 2024-10-04 UTC)"
    )
