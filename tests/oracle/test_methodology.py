from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from eth_utils import keccak

from contracts.client import VehicleClass
from oracle.errors import VehicleNotEligible
from oracle.methodology import METHODOLOGY_DIR, DailyFigures, DistanceBased, for_vehicle, load, load_all
from oracle.report import DailyReport
from scripts.trips import load_twizy

V1 = load(1)
V2 = load(2)


def day(
    distance_m: int = 0, fuel_ml: int = 0, odometer_moved_m: int | None = None, energy_wh: int = 0, moving_s: int = 0
) -> DailyReport:
    moved = distance_m if odometer_moved_m is None else odometer_moved_m
    return DailyReport(
        "0x" + "22" * 20, 19_000, 1, 500, 500 + moved, distance_m, moving_s, energy_wh, fuel_ml, bytes(32)
    )


def test_every_published_methodology_loads_in_id_order() -> None:
    assert [(m.methodology_id, type(m)) for m in load_all()] == [(1, DailyFigures), (2, DistanceBased)]
    assert V1.params_hash == keccak((METHODOLOGY_DIR / "v1.json").read_bytes())
    assert V2.registration().max_grams_per_device_day == 180_000


# ---------------------------------------------------------------------------------------- v1


def test_v1_uses_the_exchanges_daily_figures_in_integer_grams() -> None:
    assert isinstance(V1, DailyFigures)
    assert (V1.params["reference_petrol_car_g_per_day"], V1.params["electric_car_g_per_day"]) == (2580, 830)
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
    [day(distance_m=1), day(fuel_ml=1), day(odometer_moved_m=1), day(moving_s=1)],
    ids=["one-metre", "engine-idled", "odometer-moved", "moved-for-a-second"],
)
def test_a_petrol_car_that_moved_at_all_or_burned_fuel_earns_nothing(report: DailyReport) -> None:
    assessment = V1.assess(VehicleClass.PETROL, report)
    assert (assessment.grams, assessment.rule) == (0, "PETROL_USED")


def test_other_vehicles_are_not_eligible() -> None:
    with pytest.raises(VehicleNotEligible, match=re.escape("no methodology in use (v1 (1.0.0)) credits other")):
        V1.assess(VehicleClass.OTHER, day())


def test_an_ev_day_counts_from_one_kilometre_by_distance_or_odometer() -> None:
    assert V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=999)).rule == "EV_TOO_SHORT"
    assert V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=1000)).grams == 1750
    # The odometer counts as well: a distance left at 0 does not make a moving car "not driven".
    assessment = V1.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=0, odometer_moved_m=5_000))
    assert (assessment.grams, assessment.rule) == (1750, "EV_DRIVEN")


# ---------------------------------------------------------------------------------------- v2


def test_v2_prices_a_kilometre_of_the_reference_petrol_car_and_a_kwh_of_the_grid() -> None:
    assert isinstance(V2, DistanceBased)
    # 5.0 L/100 km × 2,347 mg/ml = 117.35 g/km; 586 g/kWh at the plug, 90% of it reaches the battery.
    assert V2.petrol_grams(100_000) == 11_735
    assert V2.petrol_grams(1_000) == 117  # rounded down
    assert V2.electric_grams(900) == 586
    assert V2.electric_grams(1) == 1  # 0.65 g, rounded up


def test_a_v2_day_earns_the_petrol_co2_of_its_distance_minus_the_grid_co2_of_its_energy() -> None:
    assessment = V2.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=49_611, energy_wh=4_425, moving_s=6_000))
    # floor(49,611 × 5,000 × 2,347 / 10^8) = 5,821; ceil(4,425 × 586 × 100 / 90,000) = 2,882
    assert (assessment.grams, assessment.rule) == (5_821 - 2_882, "EV_DISTANCE")
    assert "49.6 km" in assessment.explanation


def test_v2_never_goes_below_zero_nor_credits_a_driveway() -> None:
    greedy = V2.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=10_000, energy_wh=5_000, moving_s=600))
    assert (greedy.grams, greedy.rule) == (0, "EV_DISTANCE")  # 500 Wh/km: more CO2 than the petrol car
    assert V2.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m=999, energy_wh=90)).rule == "EV_TOO_SHORT"
    assert V2.assess(VehicleClass.BATTERY_ELECTRIC, day()).rule == "EV_NOT_DRIVEN"


def test_v2_covers_only_electric_cars_and_v1_the_rest() -> None:
    preference = [V2, V1]
    assert for_vehicle(preference, VehicleClass.BATTERY_ELECTRIC) is V2
    assert for_vehicle(preference, VehicleClass.PETROL) is V1
    with pytest.raises(VehicleNotEligible, match=re.escape("(v2 (2.0.0), v1 (1.0.0)) credits other vehicles")):
        for_vehicle(preference, VehicleClass.OTHER)
    with pytest.raises(VehicleNotEligible):
        V2.assess(VehicleClass.PETROL, day())


def test_the_real_twizy_saves_co2_under_v2_at_its_measured_energy_per_km() -> None:
    for trace in load_twizy().days:
        distance_m, energy_wh = round(trace.distance_m), round(trace.energy_wh)
        ev_g_per_km = V2.electric_grams(energy_wh) * 1000 / distance_m
        assert 50 < ev_g_per_km < 70  # 82-106 Wh/km at the battery, 586 g/kWh at the plug over 90%
        grams = V2.assess(VehicleClass.BATTERY_ELECTRIC, day(distance_m, energy_wh=energy_wh, moving_s=7_200)).grams
        assert 0 < grams < V2.petrol_grams(distance_m)


# ---------------------------------------------------------------------------------------- files


def write_variant(tmp_path: Path, version: int, **parameters: object) -> Path:
    document = json.loads((METHODOLOGY_DIR / f"v{version}.json").read_text())
    document["parameters"] |= parameters
    path = tmp_path / f"v{version}.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("value", [2580.0, "2580", True, -1])
def test_parameters_must_be_non_negative_integers(tmp_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        DailyFigures(write_variant(tmp_path, 1, reference_petrol_car_g_per_day=value))


def test_the_ceiling_must_cover_every_rule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="can award more than max_grams_per_device_day"):
        DailyFigures(write_variant(tmp_path, 1, max_grams_per_device_day=2000))
    with pytest.raises(ValueError, match="max_distance_m can earn more than max_grams_per_device_day"):
        DistanceBased(write_variant(tmp_path, 2, max_grams_per_device_day=100_000))
    with pytest.raises(ValueError, match="charging_efficiency_percent must be between 1 and 100"):
        DistanceBased(write_variant(tmp_path, 2, charging_efficiency_percent=0))


def test_a_file_is_read_by_the_rules_it_names(tmp_path: Path) -> None:
    shutil.copy(METHODOLOGY_DIR / "v1.json", tmp_path / "v2.json")
    with pytest.raises(ValueError, match="is a 'daily-figures' methodology, not 'distance-based'"):
        DistanceBased(tmp_path / "v2.json")
    assert isinstance(load(2, tmp_path), DailyFigures)
