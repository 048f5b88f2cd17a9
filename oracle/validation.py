"""Checks on a report's content, apart from its signature. Pure: values in, `ReportRejected` out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from contracts.client import VehicleClass, day_label, day_number
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
    SequenceNotIncreasing,
    SpeedImplausible,
)
from oracle.report import DailyReport


@dataclass(frozen=True)
class Limits:
    """What the oracle accepts as a plausible daily report."""

    max_report_age_days: int = 30
    max_distance_per_day_m: int = 1_500_000
    """1,500 km: 62.5 km/h around the clock."""
    odometer_tolerance_m: int = 100
    """Distance may differ from the odometer by this much plus 2% (GPS against wheel ticks)."""
    min_ev_wh_per_km: int = 20
    max_ev_wh_per_km: int = 600
    """A Renault Twizy needs about 90 Wh/km, a large electric SUV about 300."""
    max_average_speed_kmh: int = 200
    """Distance over the time spent moving: no car averages more over a day's driving."""
    clock_skew_seconds: int = 300
    """A device's clock may run this far ahead: its report for a day may arrive this long before midnight."""


SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class LastAccepted:
    """The device's latest accepted report: the baseline the next one must continue."""

    day: int
    sequence: int
    odometer_end_m: int


def check_day(report: DailyReport, now: datetime, limits: Limits) -> None:
    """The day must be over (allowing a device clock a few minutes fast: the chain credits the day only
    once it is over by the chain's clock), and within the window, counted from the oracle's own today."""
    today, first_open_day = _day_window(now, now.utcoffset(), limits.clock_skew_seconds)
    if report.day >= first_open_day:
        raise DayNotEnded(day_label(report.day), day_label(today))
    if today - report.day > limits.max_report_age_days:
        raise DayTooOld(day_label(report.day), limits.max_report_age_days, day_label(today))


@lru_cache(maxsize=64)
def _day_window(now: datetime, utc_offset: timedelta | None, clock_skew_seconds: int) -> tuple[int, int]:
    """(today, the first day not yet over) by the oracle's clock, allowing a device clock that far ahead.
    Cached: a batch of reports is judged at one reading of the clock. `utc_offset` is part of the key
    because the same instant falls on different dates in different time zones."""
    return day_number(now.date()), day_number((now + timedelta(seconds=clock_skew_seconds)).date())


ODOMETER_GAP = "ODOMETER_GAP"
"""A flag, not a rejection: the odometer moved between two reports, on days nobody reported."""


def check_continuity(report: DailyReport, last: LastAccepted | None) -> list[str]:
    """Days, sequence numbers and the odometer continue the device's last accepted report. An odometer
    that moved on forward between two reports is returned as a flag: a report lost on the way must not
    block the device for good, but the gap says the car moved while nobody reported."""
    if report.odometer_end_m < report.odometer_start_m:
        raise OdometerReversed(report.odometer_start_m, report.odometer_end_m)
    if last is None:
        return []
    if report.day < last.day:
        raise DayOutOfOrder(day_label(report.day), day_label(last.day))
    if report.sequence <= last.sequence:
        raise SequenceNotIncreasing(report.sequence, last.sequence)
    if report.odometer_start_m < last.odometer_end_m:
        raise OdometerRollback(report.odometer_start_m, last.odometer_end_m)
    if report.odometer_start_m > last.odometer_end_m:
        return [ODOMETER_GAP]
    return []


def check_plausibility(report: DailyReport, vehicle_class: VehicleClass, limits: Limits) -> None:
    """Distance agrees with the odometer and is humanly possible; an EV's energy fits its distance.
    Both use the larger of distance and odometer, so neither measure can be left at 0 to dodge a check."""
    odometer_m = report.odometer_end_m - report.odometer_start_m
    tolerance_m = limits.odometer_tolerance_m + odometer_m // 50
    if abs(report.distance_m - odometer_m) > tolerance_m:
        raise DistanceMismatch(report.distance_m, odometer_m, tolerance_m)
    travelled_m = report.travelled_m
    if travelled_m > limits.max_distance_per_day_m:
        raise DistanceImplausible(travelled_m, limits.max_distance_per_day_m)
    if report.moving_s > SECONDS_PER_DAY:
        raise MovingTimeImplausible(f"{report.moving_s} s of moving is more than a day")
    if travelled_m > 0 and report.moving_s == 0:
        raise MovingTimeImplausible(f"{travelled_m} m travelled in 0 s of moving")
    # Average speed while moving: metres × 3.6 / seconds, compared without division.
    if travelled_m * 3600 > limits.max_average_speed_kmh * 1000 * report.moving_s:
        raise SpeedImplausible(travelled_m, report.moving_s, limits.max_average_speed_kmh)
    if vehicle_class is VehicleClass.BATTERY_ELECTRIC and travelled_m > 0:
        # Compare Wh per km without division: energy * 1000 against metres * limit.
        low = report.energy_wh * 1000 < travelled_m * limits.min_ev_wh_per_km
        high = report.energy_wh * 1000 > travelled_m * limits.max_ev_wh_per_km
        if low or high:
            raise EnergyImplausible(
                f"{report.energy_wh} Wh for {travelled_m} m is outside "
                f"{limits.min_ev_wh_per_km}–{limits.max_ev_wh_per_km} Wh/km"
            )
