"""Turn real trip logs into the daily reports a device in each car would have signed.

Two public datasets are read as published (see data/real-trips/SOURCE.md):
- VED (Ann Arbor, November 2017): petrol and hybrid cars, OBD-II at about 0.5 Hz. No odometer and no
  fuel rate in the sample: distance is the integral of speed, fuel comes from the mass air flow (MAF)
  at the stoichiometric air-fuel ratio of petrol.
- RSK Twizy (Rabat, 2021): a battery-electric Renault Twizy at 1 Hz. Distance is the integral of CAN
  speed; energy is the state-of-charge drop of each trip times the battery's capacity.

A device works in UTC days, so local times are converted with the vehicle's time zone. Measurements
are floats here, on the device; a report carries integers (metres, Wh, ml), and nothing downstream
sees a float. The device's odometer counts metres from its installation: the sum of its daily distances.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from eth_typing import ChecksumAddress
from eth_utils import keccak

from contracts.client import VehicleClass, day_number
from oracle.report import DailyReport

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "real-trips"

ANN_ARBOR = ZoneInfo("America/Detroit")
RABAT = ZoneInfo("Africa/Casablanca")
VED_EPOCH = datetime(2017, 10, 31, tzinfo=ANN_ARBOR)
"""VED's DayNum counts days from 2017-11-01 00:00 local time, which is DayNum 1.0."""

PETROL_AIR_FUEL_RATIO = 14.7
"""Grams of air per gram of petrol at stoichiometry: fuel mass = MAF / 14.7."""
PETROL_DENSITY_G_PER_ML = 0.745
TWIZY_BATTERY_WH = 6100
"""Nominal capacity of the Renault Twizy's battery (SOURCE.md: about 6.1 kWh)."""

VED_CLASSES = {"ICE": VehicleClass.PETROL, "HEV": VehicleClass.OTHER, "PHEV": VehicleClass.OTHER,
               "EV": VehicleClass.BATTERY_ELECTRIC}  # fmt: skip


@dataclass(frozen=True)
class Vehicle:
    vehicle_id: str
    vehicle_class: VehicleClass
    description: str


@dataclass
class DayTrace:
    """What one vehicle's device measured on one UTC day."""

    day: int
    distance_m: float = 0.0
    moving_s: float = 0.0
    energy_wh: float = 0.0
    fuel_ml: float = 0.0
    raw: list[str] = field(default_factory=list)
    """The raw log lines of the day: they stay with the driver, only their hash is reported."""

    def add_interval(self, speed0_kmh: float, speed1_kmh: float, seconds: float) -> None:
        """One interval between two speed readings: its distance (trapezoid) and, if the car moved, its
        time. Reversing moves the car too; an interval with no time, or running backwards, adds nothing."""
        if seconds <= 0:
            return
        metres = (abs(speed0_kmh) + abs(speed1_kmh)) / 2 / 3.6 * seconds
        self.distance_m += metres
        if metres > 0:
            self.moving_s += seconds


@dataclass(frozen=True)
class VehicleLog:
    vehicle: Vehicle
    days: list[DayTrace]
    """Days on which the vehicle drove, in order."""


# ---------------------------------------------------------------------------------------- VED


def read_ved_vehicle_types(xlsx_paths: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """VehId → (vehicle type, engine) from VED's static tables (.xlsx read with the standard library).
    The ICE & HEV table calls the type column "Vehicle Type", the PHEV & EV table "EngineType"."""
    types: dict[str, tuple[str, str]] = {}
    for path in xlsx_paths:
        header, *rows = _xlsx_rows(path)
        vehicle_id = header.index("VehId")
        kind = header.index("Vehicle Type" if "Vehicle Type" in header else "EngineType")
        engine = header.index("Engine Configuration & Displacement")
        for row in rows:
            row = row + [""] * (len(header) - len(row))
            if row[vehicle_id]:
                types[str(int(float(row[vehicle_id])))] = (row[kind].strip(), row[engine].strip())
    return types


def load_ved(sample_dir: Path = SAMPLE_DIR) -> list[VehicleLog]:
    """Every vehicle of VED's sample, its trips cut into UTC days."""
    ved = sample_dir / "ved"
    types = read_ved_vehicle_types(sorted(ved.glob("VED_Static_Data_*.xlsx")))
    text = (ved / "ved_sample.csv").read_text()
    lines = text.splitlines()
    header, rows = lines[0], list(csv.DictReader(io.StringIO(text)))
    trips: dict[str, dict[str, list[tuple[dict[str, str], str]]]] = defaultdict(lambda: defaultdict(list))
    for row, line in zip(rows, lines[1:], strict=True):
        trips[row["VehId"]][row["Trip"]].append((row, line))

    logs = []
    for vehicle_id in sorted(trips, key=int):
        kind, engine = types[vehicle_id]
        days: dict[int, DayTrace] = {}
        for trip in trips[vehicle_id].values():
            start = VED_EPOCH + timedelta(days=float(trip[0][0]["DayNum"]))
            samples = [
                (
                    start + timedelta(milliseconds=float(row["Timestamp(ms)"])),
                    _number(row["Vehicle Speed[km/h]"]),
                    _number(row["MAF[g/sec]"]),
                    line,
                )
                for row, line in trip
            ]
            for (t0, v0, maf0, line), (t1, v1, maf1, _) in itertools.pairwise(samples):
                trace = _day_of(days, t0)
                seconds = (t1 - t0).total_seconds()
                trace.add_interval(v0, v1, seconds)
                trace.fuel_ml += max(maf0 + maf1, 0.0) / 2 * seconds / PETROL_AIR_FUEL_RATIO / PETROL_DENSITY_G_PER_ML
                trace.raw.append(line)
            _day_of(days, samples[-1][0]).raw.append(samples[-1][3])
        for trace in days.values():
            trace.raw.insert(0, header)
        vehicle = Vehicle(f"ved-{vehicle_id}", VED_CLASSES[kind], f"{kind} {engine} (VED VehId {vehicle_id})")
        logs.append(VehicleLog(vehicle, [days[d] for d in sorted(days)]))
    return logs


# ---------------------------------------------------------------------------------------- Twizy

_TWIZY_FILE_DATE = re.compile(r"T\d+_(\d\d)_(\d\d)_(\d{4})")


def load_twizy(sample_dir: Path = SAMPLE_DIR) -> VehicleLog:
    """The Renault Twizy's trips (one file each), cut into UTC days."""
    days: dict[int, DayTrace] = {}
    header = ""
    for path in sorted((sample_dir / "twizy_ev" / "data" / "Analyzed").glob("T*/T*.csv")):
        named = _TWIZY_FILE_DATE.match(path.name)
        if named is None:
            raise ValueError(f"{path.name}: expected a name like T1_03_29_2021.csv (trip, month, day, year)")
        month, day, year = (int(part) for part in named.groups())
        lines = path.read_text().splitlines()
        rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
        if not rows:
            continue
        header = lines[0]
        # Some rows carry a corrupted Date; the file name gives the day the trip started.
        moments = _local_times(date(year, month, day), [row["Time"] for row in rows])
        samples = list(zip(moments, (_number(row["Speed"]) for row in rows), lines[1:], strict=True))
        for (t0, v0, line), (t1, v1, _) in itertools.pairwise(samples):
            trace = _day_of(days, t0)
            trace.add_interval(v0, v1, (t1 - t0).total_seconds())
            trace.raw.append(line)
        last = _day_of(days, samples[-1][0])
        last.raw.append(samples[-1][2])
        charge = [soc for soc in (_number(row["Soc"], missing=math.nan) for row in rows) if not math.isnan(soc)]
        if charge:
            last.energy_wh += max(charge[0] - charge[-1], 0.0) / 100 * TWIZY_BATTERY_WH
    for trace in days.values():
        trace.raw.insert(0, header)
    vehicle = Vehicle("twizy", VehicleClass.BATTERY_ELECTRIC, "BEV Renault Twizy (RSK Twizy EV dataset)")
    return VehicleLog(vehicle, [days[d] for d in sorted(days)])


def load_sample(sample_dir: Path = SAMPLE_DIR) -> list[VehicleLog]:
    """Every vehicle in the sample: the Twizy first, then VED's cars."""
    return [load_twizy(sample_dir), *load_ved(sample_dir)]


# ---------------------------------------------------------------------------------------- reports


def daily_reports(log: VehicleLog, device: ChecksumAddress, *, first_sequence: int = 1) -> list[DailyReport]:
    """The reports the device would sign: one per driving day and, for a car that burns fuel, one for
    each day between its first and last trip on which it did not move (a zero-distance report)."""
    by_day = {trace.day: trace for trace in log.days}
    if not by_day:
        return []
    if log.vehicle.vehicle_class is VehicleClass.BATTERY_ELECTRIC:
        days: Sequence[int] = sorted(by_day)
    else:
        days = range(min(by_day), max(by_day) + 1)
    reports = []
    odometer_m = 0
    for sequence, day in enumerate(days, start=first_sequence):
        trace = by_day.get(day, DayTrace(day))
        distance_m = round(trace.distance_m)
        reports.append(
            DailyReport(
                device=device,
                day=day,
                sequence=sequence,
                odometer_start_m=odometer_m,
                odometer_end_m=odometer_m + distance_m,
                distance_m=distance_m,
                moving_s=round(trace.moving_s),
                energy_wh=round(trace.energy_wh),
                fuel_ml=round(trace.fuel_ml),
                trace_hash=keccak(text="\n".join(trace.raw)),
            )
        )
        odometer_m += distance_m
    return reports


def _day_of(days: dict[int, DayTrace], moment: datetime) -> DayTrace:
    day = day_number(moment.astimezone(UTC).date())
    return days.setdefault(day, DayTrace(day))


def _number(text: str, missing: float = 0.0) -> float:
    """A logged number; `missing` for NaN, an empty cell or text that is not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return missing
    return missing if math.isnan(value) else value


def _local_times(start: date, clock_times: list[str]) -> list[datetime]:
    """Wall-clock times of one trip as moments in Rabat, moving to the next date when the clock wraps
    past midnight."""
    moments = []
    day, previous = start, None
    for text in clock_times:
        clock = datetime.strptime(text, "%H:%M:%S").time()
        if previous is not None and clock < previous:
            day += timedelta(days=1)
        previous = clock
        moments.append(datetime.combine(day, clock, RABAT))
    return moments


def _xlsx_rows(path: Path) -> list[list[str]]:
    """The first sheet of an .xlsx file as rows of strings."""
    ns = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as book:
        shared = [
            "".join(t.text or "" for t in item.iter(f"{{{ns['s']}}}t"))
            for item in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall("s:si", ns)
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{ns['s']}}}row"):
        cells: dict[int, str] = {}
        for cell in row.findall("s:c", ns):
            value = cell.find("s:v", ns)
            text = "" if value is None or value.text is None else value.text
            cells[_column_index(cell.get("r", "A1"))] = shared[int(text)] if cell.get("t") == "s" else text
        rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
    return rows


def _column_index(reference: str) -> int:
    letters = re.match(r"[A-Z]+", reference).group()  # type: ignore[union-attr]
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1
