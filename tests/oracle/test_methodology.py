from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_utils import keccak

from contracts.client import VehicleClass
from oracle.errors import VehicleNotEligible
from oracle.methodology import METHODOLOGY_DIR, DailyFigures
from oracle.report import DailyReport

V1 = DailyFigures.load()


def day(distance_m: int = 0, fuel_ml: int = 0, odometer_moved_m: int | None = None) -> DailyReport:
    moved = distance_m if odometer_moved_m is None else odometer_moved_m
    return DailyReport("0x" + "22" * 20, 19_000, 1, 500, 500 + moved, distance_m, 0, fuel_ml, bytes(32))


def test_v1_uses_the_exchanges_daily_figures_in_integer_grams() -> None:
    assert (V1.reference_petrol_car_g_per_day, V1.electric_car_g_per_day) == (2580, 830)
    assert V1.ev_day_grams == 1750
    assert V1.max_grams_per_device_day == 2580


def test_a_driven_ev_day_earns_the_petrol_figure_minus_the_ev_figure() -> None:
    assessment = V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=30_000))
    assert (assessment.grams, assessment.rule) == (2580 - 830, "EV_DRIVEN")


def test_an_ev_that_stayed_home_earns_nothing_under_v1() -> None:
    assert V1.assess(VehicleClass.BATTERY_ELECTRIC, day()).grams == 0


def test_a_petrol_car_that_did_not_move_earns_the_reference_cars_daily_co2() -> None:
    assessment = V1.assess(VehicleClass.PETROL, day())
    assert (assessment.grams, assessment.rule) == (2580, "CAR_FREE_DAY")


@pytest.mark.parametrize(
    "report",
    [day(distance_m=1), day(fuel_ml=1), day(odometer_moved_m=1)],
    ids=["one-metre", "engine-idled", "odometer-moved"],
)
def test_a_petrol_car_that_moved_or_burned_fuel_earns_nothing(report: DailyReport) -> None:
    assessment = V1.assess(VehicleClass.PETROL, report)
    assert (assessment.grams, assessment.rule) == (0, "PETROL_USED")


def test_other_vehicles_are_not_eligible() -> None:
    with pytest.raises(VehicleNotEligible, match=re.escape("methodology v1 (1.0.0) credits no other vehicles")):
        V1.assess(VehicleClass.OTHER, day())


def test_the_published_hash_is_the_keccak_of_the_parameter_file() -> None:
    assert V1.params_hash == keccak((METHODOLOGY_DIR / "v1.json").read_bytes())
    assert V1.registration().max_grams_per_device_day == 2580


def write_variant(tmp_path: Path, **parameters: object) -> Path:
    document = json.loads((METHODOLOGY_DIR / "v1.json").read_text())
    document["parameters"] |= parameters
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("value", [2580.0, "2580", True, -1])
def test_parameters_must_be_integer_grams(tmp_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="must be a non-negative integer of grams"):
        DailyFigures.load(write_variant(tmp_path, reference_petrol_car_g_per_day=value))


def test_the_ceiling_must_cover_every_rule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="can award more than max_grams_per_device_day"):
        DailyFigures.load(write_variant(tmp_path, max_grams_per_device_day=2000))


def test_an_ev_day_counts_from_one_kilometre_by_distance_or_odometer() -> None:
    assert V1.ev_min_distance_m == 1000
    assert V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=999)).rule == "EV_TOO_SHORT"
    assert V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=1000)).grams == 1750
    # The odometer counts as well: a distance left at 0 does not make a moving car "not driven".
    assessment = V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=0, odometer_moved_m=5_000))
    assert (assessment.grams, assessment.rule) == (1750, "EV_DRIVEN")
