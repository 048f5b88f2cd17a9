"""Methodologies: how many grams of CO2e a verified daily report is worth.

A methodology is a versioned JSON file of parameters with their sources (oracle/methodologies/); its
keccak256 is published on chain with its id, and every claim records the id that produced it. The rules
are code; the numbers are the file's. Integer grams only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak

from contracts.client import MethodologyRegistration, VehicleClass
from oracle.errors import VehicleNotEligible
from oracle.report import DailyReport

METHODOLOGY_DIR = Path(__file__).with_name("methodologies")


@dataclass(frozen=True)
class Assessment:
    """The grams a report earns, the rule that decided it, and why, in words."""

    grams: int
    rule: str
    explanation: str


@dataclass(frozen=True)
class DailyFigures:
    """Version 1: the exchange's daily figures. An EV day saves the reference petrol car's daily CO2
    minus the EV's; a car-free day of a registered petrol car saves the reference car's daily CO2."""

    methodology_id: int
    version: str
    params_hash: bytes
    uri: str
    reference_petrol_car_g_per_day: int
    electric_car_g_per_day: int
    ev_min_distance_m: int
    max_grams_per_device_day: int

    @classmethod
    def load(cls, path: Path = METHODOLOGY_DIR / "v1.json") -> DailyFigures:
        raw = path.read_bytes()
        document: dict[str, Any] = json.loads(raw)
        params = document["parameters"]
        for name, value in params.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{path.name}: parameter {name} must be a non-negative integer of grams")
        method = cls(
            methodology_id=document["id"],
            version=document["version"],
            params_hash=keccak(raw),
            uri=f"gtc:methodology/{path.name}",
            reference_petrol_car_g_per_day=params["reference_petrol_car_g_per_day"],
            electric_car_g_per_day=params["electric_car_g_per_day"],
            ev_min_distance_m=params["ev_min_distance_m"],
            max_grams_per_device_day=params["max_grams_per_device_day"],
        )
        if max(method.ev_day_grams, method.reference_petrol_car_g_per_day) > method.max_grams_per_device_day:
            raise ValueError(f"{path.name}: a rule can award more than max_grams_per_device_day")
        return method

    @property
    def ev_day_grams(self) -> int:
        return self.reference_petrol_car_g_per_day - self.electric_car_g_per_day

    @property
    def label(self) -> str:
        return f"v{self.methodology_id} ({self.version})"

    def registration(self) -> MethodologyRegistration:
        """What the token contract needs to accept mints under this methodology."""
        return MethodologyRegistration(self.methodology_id, self.params_hash, self.max_grams_per_device_day, self.uri)

    def assess(self, vehicle_class: VehicleClass, report: DailyReport) -> Assessment:
        """Grams earned by a report that passed verification; raises VehicleNotEligible."""
        travelled_m = report.travelled_m
        moved = travelled_m > 0
        if vehicle_class is VehicleClass.BATTERY_ELECTRIC:
            if not moved:
                return Assessment(0, "EV_NOT_DRIVEN", "electric car not driven: this methodology credits driving days")
            if travelled_m < self.ev_min_distance_m:
                short = f"electric car moved {travelled_m} m: a day of travel starts at {self.ev_min_distance_m} m"
                return Assessment(0, "EV_TOO_SHORT", short)
            grams = self.ev_day_grams
            return Assessment(grams, "EV_DRIVEN", f"electric car driven: {grams} g CO2e avoided against petrol")
        if vehicle_class is VehicleClass.PETROL:
            if moved or report.fuel_ml > 0:
                return Assessment(0, "PETROL_USED", "petrol car used: no saving to credit")
            grams = self.reference_petrol_car_g_per_day
            return Assessment(grams, "CAR_FREE_DAY", f"petrol car not used all day: {grams} g CO2e avoided")
        raise VehicleNotEligible(vehicle_class.name.lower().replace("_", "-"), self.label)
