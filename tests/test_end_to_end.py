"""The demo's flow on the real sample, checked against figures computed independently from the logs."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from backend.api import create_app
from oracle.methodology import METHODOLOGY_DIR
from scripts.demo import DemoResult, run_demo
from scripts.serve import serving
from scripts.trips import SAMPLE_DIR

pytestmark = pytest.mark.e2e

CAR_FREE_DAY_G = 2580
VED_TYPES = {"267": "ICE", "298": "HEV", "370": "ICE", "459": "ICE", "478": "ICE", "592": "ICE"}
"""As listed in data/real-trips/SOURCE.md."""
TWIZY_BATTERY_WH = 6100
V2 = json.loads((METHODOLOGY_DIR / "v2.json").read_text())["parameters"]


def twizy_days() -> dict[str, tuple[float, float]]:
    """Per driving date: metres (CAN speed integrated over the 1 Hz rows, trapezoids) and Wh (each trip's
    state-of-charge drop times the battery), straight from the CSV files."""
    days: dict[str, list[float]] = {}
    for path in sorted(SAMPLE_DIR.glob("twizy_ev/**/*.csv")):
        date_key = re.search(r"_(\d\d_\d\d_\d{4})", path.name).group(1)  # type: ignore[union-attr]
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
        seconds = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in (row["Time"].split(":") for row in rows)]
        speeds = [float(row["Speed"]) for row in rows]
        metres = sum(
            (a + b) / 2 / 3.6 * (t1 - t0) for (a, b), (t0, t1) in zip(pairwise(speeds), pairwise(seconds), strict=True)
        )
        watt_hours = (float(rows[0]["Soc"]) - float(rows[-1]["Soc"])) / 100 * TWIZY_BATTERY_WH
        totals = days.setdefault(date_key, [0.0, 0.0])
        totals[0] += metres
        totals[1] += watt_hours
    return {key: (metres, watt_hours) for key, (metres, watt_hours) in days.items()}


def v2_grams(metres: float, watt_hours: float) -> int:
    """Methodology v2 as its file states it, from the published parameters."""
    petrol = round(metres) * V2["reference_petrol_ml_per_100_km"] * V2["petrol_co2_mg_per_ml"] // 10**8
    # Grid emissions of the energy drawn at the plug, rounded up (integer ceiling division).
    at_plug = round(watt_hours) * V2["grid_co2_g_per_kwh"] * 100
    electric = -(-at_plug // (1000 * V2["charging_efficiency_percent"]))
    return max(petrol - electric, 0)


def ved_utc_days() -> dict[str, set[date]]:
    """Every UTC day touched by a trip, per vehicle: trip start from DayNum (local time in Ann Arbor)
    to trip end (start + the last Timestamp)."""
    local = ZoneInfo("America/Detroit")
    trips: dict[tuple[str, str], list[dict[str, str]]] = {}
    with open(SAMPLE_DIR / "ved" / "ved_sample.csv", newline="") as file:
        for row in csv.DictReader(file):
            trips.setdefault((row["VehId"], row["Trip"]), []).append(row)
    days: dict[str, set[date]] = {}
    for (vehicle, _), rows in trips.items():
        start = datetime(2017, 11, 1, tzinfo=local) + timedelta(days=float(rows[0]["DayNum"]) - 1)
        end = start + timedelta(milliseconds=max(float(row["Timestamp(ms)"]) for row in rows))
        day = start.astimezone(ZoneInfo("UTC")).date()
        while day <= end.astimezone(ZoneInfo("UTC")).date():
            days.setdefault(vehicle, set()).add(day)
            day += timedelta(days=1)
    return days


def expected_minted_grams() -> int:
    ev = sum(v2_grams(metres, watt_hours) for metres, watt_hours in twizy_days().values())
    car_free = 0
    for vehicle, driven in ved_utc_days().items():
        if VED_TYPES[vehicle] == "ICE":
            span = (max(driven) - min(driven)).days + 1
            car_free += (span - len(driven)) * CAR_FREE_DAY_G
    return ev + car_free


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, list[str]]:
    lines: list[str] = []
    result = run_demo(tmp_path_factory.mktemp("demo"), SAMPLE_DIR, echo=lines.append)
    return result, lines


def test_the_kg_minted_are_what_the_trip_logs_earn(demo: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo
    expected = expected_minted_grams()
    assert len(twizy_days()) == 4  # 4 Twizy days under v2, and 6 idle days of VED's petrol cars under v1
    assert expected - 6 * CAR_FREE_DAY_G == 9_987
    assert result.minted_grams == expected
    assert result.contracts.supply().issued == expected


def test_every_rejection_has_its_reason(demo: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo
    codes = Counter(record.code for record in result.oracle_store.reports())
    hybrid_days = ved_utc_days()["298"]
    assert codes == {
        "ACCEPTED": result.accepted,
        "VEHICLE_NOT_ELIGIBLE": (max(hybrid_days) - min(hybrid_days)).days + 1,  # every day of the hybrid
        "SIGNER_MISMATCH": 1,
        "UNKNOWN_DEVICE": 1,
        "DAY_CONFLICT": 1,
    }
    assert result.rejected == sum(codes.values()) - result.accepted


def test_balances_from_the_api_equal_balance_of_on_chain(demo: tuple[DemoResult, list[str]]) -> None:
    result, _ = demo
    with serving(create_app(result.backend_db, result.contracts)) as url, httpx.Client(base_url=url) as api:
        for address in [*result.drivers.values(), result.buyer]:
            assert int(api.get(f"/v1/accounts/{address}").json()["balance"]["grams"]) == result.contracts.balance_of(
                address
            )
        assert api.get("/health").json()["supplyMatches"] is True


def test_the_demo_ends_with_its_summary_line(demo: tuple[DemoResult, list[str]]) -> None:
    result, lines = demo
    assert lines[-1] == result.summary()
    assert lines[-1] == (
        f"SUMMARY reports_accepted={result.accepted} reports_rejected={result.rejected} kg_minted=25.467 "
        "kg_bought=3.000 kg_retired=2.000"
    )


def test_the_demo_can_run_again_in_the_same_folder(tmp_path: Path) -> None:
    first = run_demo(tmp_path, SAMPLE_DIR, echo=lambda _: None)
    second = run_demo(tmp_path, SAMPLE_DIR, echo=lambda _: None)
    assert (second.accepted, second.minted_grams) == (first.accepted, first.minted_grams)


def test_the_readme_shows_the_demo_as_it_runs(demo: tuple[DemoResult, list[str]]) -> None:
    _, lines = demo
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shown = readme[readme.index("```\nGreen Travel Credits: the whole flow") + 4 :]
    shown = shown[: shown.index("```")].rstrip("\n").splitlines()
    # Only the folder the demo writes to differs (this test's temporary one).
    ran = re.sub(r"written to \S+reports\.jsonl", "written to var/demo/reports.jsonl", "\n".join(lines)).splitlines()
    assert ran == shown, "README.md's demo output is stale: run `make demo` and paste its output"
