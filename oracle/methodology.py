"""Methodologies: how many grams of CO2e a verified daily report is worth.

A methodology is a versioned JSON file of integer parameters with their sources
(oracle/methodologies/v<id>.json); its keccak256 is published on chain with its id and the most grams it
can award a device-day, and every claim records the id that produced it. The rules are code; the numbers
are the file's. Integer grams only, rounded against the driver.

- v1, daily figures: the exchange's own daily averages (an EV day, a car-free petrol day).
- v2, distance-based: the kilometres an EV drove, at the reference petrol car's CO2 per km, minus the
  grid CO2 of the energy it used.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from eth_utils import keccak

from contracts.client import MethodologyRegistration, VehicleClass
from oracle.errors import VehicleNotEligible
from oracle.report import DailyReport

METHODOLOGY_DIR = Path(__file__).with_name("methodologies")
CAR_FREE_DAY = "CAR_FREE_DAY"
"""The rule of a petrol car's day without driving: a later odometer gap puts such a claim in doubt."""


@dataclass(frozen=True)
class Assessment:
    """The grams a report earns, the rule that decided it, and why, in words."""

    grams: int
    rule: str
    explanation: str


class Methodology(ABC):
    """A published parameter file and the rules that read it."""

    name: ClassVar[str]
    """The file's "name", which says which rules read it."""
    covers: ClassVar[frozenset[VehicleClass]]

    def __init__(self, path: Path) -> None:
        raw = path.read_bytes()
        document: dict[str, Any] = json.loads(raw)
        if document.get("name") != self.name:
            raise ValueError(f"{path.name} is a {document.get('name')!r} methodology, not {self.name!r}")
        for key, value in document["parameters"].items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{path.name}: parameter {key} must be a non-negative integer")
        self.methodology_id: int = document["id"]
        self.version: str = document["version"]
        self.params: dict[str, int] = document["parameters"]
        self.params_hash = keccak(raw)
        self.uri = f"gtc:methodology/{path.name}"
        self.max_grams_per_device_day = self.params["max_grams_per_device_day"]
        self._check(path.name)

    @property
    def label(self) -> str:
        return f"v{self.methodology_id} ({self.version})"

    def registration(self) -> MethodologyRegistration:
        """What the token contract needs to accept mints under this methodology."""
        return MethodologyRegistration(self.methodology_id, self.params_hash, self.max_grams_per_device_day, self.uri)

    @abstractmethod
    def assess(self, vehicle_class: VehicleClass, report: DailyReport) -> Assessment:
        """Grams earned by a report that passed verification, for a vehicle class it covers."""

    @abstractmethod
    def _check(self, file_name: str) -> None:
        """Raise ValueError when the parameters cannot work together."""


class DailyFigures(Methodology):
    """v1: the exchange's daily figures. An EV driven at least `ev_min_distance_m` saves the reference
    petrol car's daily CO2 minus the EV's; a car-free day of a registered petrol car saves the reference
    car's daily CO2."""

    name = "daily-figures"
    covers = frozenset({VehicleClass.BATTERY_ELECTRIC, VehicleClass.PETROL})

    @property
    def ev_day_grams(self) -> int:
        return self.params["reference_petrol_car_g_per_day"] - self.params["electric_car_g_per_day"]

    def _check(self, file_name: str) -> None:
        if max(self.ev_day_grams, self.params["reference_petrol_car_g_per_day"]) > self.max_grams_per_device_day:
            raise ValueError(f"{file_name}: a rule can award more than max_grams_per_device_day")

    def assess(self, vehicle_class: VehicleClass, report: DailyReport) -> Assessment:
        travelled_m = report.travelled_m
        if vehicle_class is VehicleClass.BATTERY_ELECTRIC:
            if travelled_m == 0:
                return Assessment(0, "EV_NOT_DRIVEN", "electric car not driven: this methodology credits driving days")
            minimum = self.params["ev_min_distance_m"]
            if travelled_m < minimum:
                short = f"electric car moved {travelled_m} m: a day of travel starts at {minimum} m"
                return Assessment(0, "EV_TOO_SHORT", short)
            grams = self.ev_day_grams
            return Assessment(grams, "EV_DRIVEN", f"electric car driven: {grams} g CO2e avoided against petrol")
        if vehicle_class is VehicleClass.PETROL:
            if travelled_m > 0 or report.fuel_ml > 0 or report.moving_s > 0:
                return Assessment(0, "PETROL_USED", "petrol car used: no saving to credit")
            grams = self.params["reference_petrol_car_g_per_day"]
            return Assessment(grams, CAR_FREE_DAY, f"petrol car not used all day: {grams} g CO2e avoided")
        raise VehicleNotEligible(vehicle_class.name.lower().replace("_", "-"), self.label)


class DistanceBased(Methodology):
    """v2: an EV day saves, per kilometre, the reference petrol car's CO2 (its fuel use times petrol's CO2
    per litre) minus the EV's: the energy it drew, over the charging efficiency, times the grid's CO2 per
    kWh. Petrol rounds down and electricity up, so rounding never favours the driver."""

    name = "distance-based"
    covers = frozenset({VehicleClass.BATTERY_ELECTRIC})

    def petrol_grams(self, distance_m: int) -> int:
        """CO2 of the reference petrol car over `distance_m`, rounded down."""
        p = self.params
        # metres × ml per 100 km × mg per ml → mg × 100,000 (per 100 km); / 1,000 mg per g
        return distance_m * p["reference_petrol_ml_per_100_km"] * p["petrol_co2_mg_per_ml"] // 100_000_000

    def electric_grams(self, energy_wh: int) -> int:
        """Grid CO2 of charging `energy_wh` into the battery, rounded up."""
        p = self.params
        numerator = energy_wh * p["grid_co2_g_per_kwh"] * 100
        denominator = 1000 * p["charging_efficiency_percent"]
        return -(-numerator // denominator)

    def _check(self, file_name: str) -> None:
        if not 1 <= self.params["charging_efficiency_percent"] <= 100:
            raise ValueError(f"{file_name}: charging_efficiency_percent must be between 1 and 100")
        if self.petrol_grams(self.params["max_distance_m"]) > self.max_grams_per_device_day:
            raise ValueError(f"{file_name}: max_distance_m can earn more than max_grams_per_device_day")

    def assess(self, vehicle_class: VehicleClass, report: DailyReport) -> Assessment:
        if vehicle_class not in self.covers:
            raise VehicleNotEligible(vehicle_class.name.lower().replace("_", "-"), self.label)
        distance_m = min(report.travelled_m, self.params["max_distance_m"])
        if distance_m < self.params["min_distance_m"]:
            moved = f"electric car moved {distance_m} m: a day of travel starts at {self.params['min_distance_m']} m"
            return Assessment(0, "EV_TOO_SHORT" if distance_m else "EV_NOT_DRIVEN", moved)
        petrol, electric = self.petrol_grams(distance_m), self.electric_grams(report.energy_wh)
        grams = max(petrol - electric, 0)
        return Assessment(
            grams,
            "EV_DISTANCE",
            f"electric car drove {distance_m / 1000:.1f} km: {petrol} g CO2 for the reference petrol car, "
            f"{electric} g for the grid electricity, {grams} g avoided",
        )


KINDS: dict[str, type[Methodology]] = {kind.name: kind for kind in (DailyFigures, DistanceBased)}


def load(methodology_id: int, directory: Path = METHODOLOGY_DIR) -> Methodology:
    """The methodology published as v<id>.json."""
    path = directory / f"v{methodology_id}.json"
    kind = KINDS[json.loads(path.read_text())["name"]]
    return kind(path)


def load_all(directory: Path = METHODOLOGY_DIR) -> list[Methodology]:
    """Every methodology file, by id: what a deployment registers on chain."""
    return sorted((load(int(path.stem[1:]), directory) for path in directory.glob("v*.json")), key=_id)


def _id(method: Methodology) -> int:
    return method.methodology_id


def for_vehicle(methodologies: Sequence[Methodology], vehicle_class: VehicleClass) -> Methodology:
    """The first methodology, in the operator's order of preference, that covers the vehicle class."""
    for method in methodologies:
        if vehicle_class in method.covers:
            return method
    labels = ", ".join(method.label for method in methodologies)
    raise VehicleNotEligible(vehicle_class.name.lower().replace("_", "-"), labels)
