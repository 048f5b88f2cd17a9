from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import pytest

from contracts.client import VehicleClass, day_date
from scripts.trips import SAMPLE_DIR, VehicleLog, daily_reports, load_twizy, load_ved, read_ved_vehicle_types

DEVICE = "0x" + "ab" * 20


@pytest.fixture(scope="module")
def twizy() -> VehicleLog:
    return load_twizy()


@pytest.fixture(scope="module")
def ved() -> dict[str, VehicleLog]:
    return {log.vehicle.vehicle_id: log for log in load_ved()}


def test_the_twizy_drove_on_four_days_with_the_distances_in_source_md(twizy: VehicleLog) -> None:
    assert twizy.vehicle.vehicle_class is VehicleClass.BATTERY_ELECTRIC
    days = {day_date(trace.day): trace for trace in twizy.days}
    assert list(days) == [date(2021, 3, 29), date(2021, 3, 30), date(2021, 4, 22), date(2021, 5, 25)]
    # SOURCE.md lists ∫Speed per file: 49.6; 52.7; 14.1 + 15.5; 13.8 + 15.6 + 14.2 km.
    for day, km in [((2021, 3, 29), 49.6), ((2021, 3, 30), 52.7), ((2021, 4, 22), 29.6), ((2021, 5, 25), 43.6)]:
        assert days[date(*day)].distance_m == pytest.approx(km * 1000, abs=100)


def test_twizy_energy_is_the_soc_drop_of_each_trip_times_the_battery(twizy: VehicleLog) -> None:
    days = {day_date(trace.day): trace for trace in twizy.days}
    # T1: 87.54 % → 15.00 %; 72.54 % of 6.1 kWh.
    assert days[date(2021, 3, 29)].energy_wh == pytest.approx(0.7254 * 6100)
    # 25 May: three trips, recharged in between: 56.20→32.40, 61.74→34.18, 62.54→38.48.
    assert days[date(2021, 5, 25)].energy_wh == pytest.approx((23.80 + 27.56 + 24.06) / 100 * 6100)
    for trace in twizy.days:
        assert 80 < trace.energy_wh / (trace.distance_m / 1000) < 110  # Wh/km of a Twizy


def test_ved_vehicle_types_come_from_the_static_tables() -> None:
    types = read_ved_vehicle_types(sorted((SAMPLE_DIR / "ved").glob("VED_Static_Data_*.xlsx")))
    assert types["267"] == ("ICE", "4-FI 2.5L")
    assert types["298"] == ("HEV", "4-GAS/ELECTRIC 1.5L")
    assert types["10"] == ("EV", "ELECTRIC")  # from the PHEV & EV table


def test_ved_classes_and_utc_days(ved: dict[str, VehicleLog]) -> None:
    assert sorted(ved) == ["ved-267", "ved-298", "ved-370", "ved-459", "ved-478", "ved-592"]
    assert ved["ved-298"].vehicle.vehicle_class is VehicleClass.OTHER
    assert {log.vehicle.vehicle_class for key, log in ved.items() if key != "ved-298"} == {VehicleClass.PETROL}
    # Vehicle 267 set off at 21:54 on 3 November in Ann Arbor (EDT): 01:54 UTC on the 4th.
    assert [day_date(t.day) for t in ved["ved-267"].days] == [date(2017, 11, 4), date(2017, 11, 5)]


def test_ved_fuel_comes_from_mass_air_flow(ved: dict[str, VehicleLog]) -> None:
    for log in ved.values():
        for trace in log.days:
            litres_per_100_km = trace.fuel_ml / 1000 / (trace.distance_m / 100_000)
            assert 4 < litres_per_100_km < 25, (log.vehicle.vehicle_id, litres_per_100_km)


def test_a_petrol_cars_idle_days_between_trips_become_zero_reports(ved: dict[str, VehicleLog]) -> None:
    reports = daily_reports(ved["ved-370"], DEVICE)
    assert [(str(day_date(r.day)), r.distance_m > 0) for r in reports] == [
        ("2017-11-03", True), ("2017-11-04", False), ("2017-11-05", False), ("2017-11-06", False), ("2017-11-07", True)
    ]  # fmt: skip
    for idle in reports[1:4]:
        assert (idle.distance_m, idle.fuel_ml, idle.odometer_start_m == idle.odometer_end_m) == (0, 0, True)
    assert [r.sequence for r in reports] == [1, 2, 3, 4, 5]


def test_reports_carry_a_continuous_odometer_and_a_hash_of_each_days_trace(twizy: VehicleLog) -> None:
    reports = daily_reports(twizy, DEVICE)
    assert len(reports) == 4  # an EV reports its driving days only
    assert reports[0].odometer_start_m == 0
    for before, after in itertools.pairwise(reports):
        assert after.odometer_start_m == before.odometer_end_m
    for report in reports:
        assert report.odometer_end_m - report.odometer_start_m == report.distance_m
    assert len({report.trace_hash for report in reports}) == 4


TWIZY_HEADER = (
    "Date,Time,Soc,Speed,Mode,LAT,LON,ALT,GpsSpeed,Temperature,Humidity,Weather,WindSpeedAv,Traffic,SpeedLimit"
)


def write_twizy(sample_dir: Path, name: str, rows: list[tuple[str, str, str]]) -> None:
    folder = sample_dir / "twizy_ev" / "data" / "Analyzed" / "T9"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"01/01/2021,{time},{soc},{speed},D,0,0,0,0,0,0,Clear,0,0,50" for time, soc, speed in rows]
    (folder / name).write_text("\n".join([TWIZY_HEADER, *lines]) + "\n")


def test_a_trip_across_midnight_continues_on_the_next_day(tmp_path: Path) -> None:
    # Rabat is UTC+1 in January: 23:59:58 local is 22:59:58 UTC, and the clock wraps to 00:00:01.
    write_twizy(tmp_path, "T12_01_01_2021.csv", [("23:59:58", "80", "36"), ("00:00:01", "79", "36")])
    (day,) = load_twizy(tmp_path).days
    assert day_date(day.day) == date(2021, 1, 1)
    assert day.distance_m == pytest.approx(30.0)  # 3 s at 36 km/h, not −86,397 s
    assert day.energy_wh == pytest.approx(0.01 * 6100)


def test_missing_and_odd_readings_add_nothing_instead_of_breaking_the_import(tmp_path: Path) -> None:
    write_twizy(tmp_path, "T1_01_02_2021.csv", [("10:00:00", "80", "NaN"), ("10:00:10", "NaN", "36"),
                                               ("10:00:20", "79", "-36"), ("10:00:30", "", "36")])  # fmt: skip
    write_twizy(tmp_path, "T1_01_03_2021.csv", [])  # a header and nothing else
    (day,) = load_twizy(tmp_path).days
    # NaN speed counts as standing still; reversing (-36 km/h) moves the car as far as driving forward.
    assert day.distance_m == pytest.approx(50 + 100 + 100)
    assert day.energy_wh == pytest.approx(0.01 * 6100)  # first and last SoC that were logged


def test_a_badly_named_trip_file_is_refused_by_name(tmp_path: Path) -> None:
    write_twizy(tmp_path, "Trip_one.csv", [("10:00:00", "80", "0")])
    with pytest.raises(ValueError, match=re.escape("Trip_one.csv: expected a name like T1_03_29_2021.csv")):
        load_twizy(tmp_path)
    assert daily_reports(VehicleLog(load_twizy(SAMPLE_DIR).vehicle, []), DEVICE) == []


def test_moving_time_counts_the_intervals_in_which_the_car_moved(twizy: VehicleLog, ved: dict[str, VehicleLog]) -> None:
    first = twizy.days[0]  # T1: 11:13:45-12:56:53 with stops
    assert 0 < first.moving_s < 6_189
    average_kmh = first.distance_m / first.moving_s * 3.6
    assert 25 < average_kmh < 60  # urban driving with a ring road
    for log in ved.values():
        for trace in log.days:
            assert trace.distance_m / trace.moving_s * 3.6 < 130
    reports = daily_reports(ved["ved-370"], DEVICE)
    assert [r.moving_s > 0 for r in reports] == [True, False, False, False, True]
