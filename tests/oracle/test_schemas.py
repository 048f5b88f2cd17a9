"""The wire schema builds its reports without their __init__: the same objects as the plain constructors'."""

from __future__ import annotations

import json
import random
from dataclasses import fields
from typing import Any

import pytest
from eth_utils import to_checksum_address

from oracle.report import DailyReport, SignedReport
from oracle.schemas import SignedReportIn, parse_report_line, parse_signed_report

MAX_COUNT, MAX_UINT32 = 2**63 - 1, 2**32 - 1
COUNTS = ["sequence", "odometerStartM", "odometerEndM", "distanceM", "energyWh", "fuelMl"]


def wire_report(chance: random.Random) -> dict[str, Any]:
    def value(top: int) -> int:
        return chance.choice([0, 1, top, top - 1, chance.randrange(top + 1)])

    address = to_checksum_address(chance.randbytes(20))
    data: dict[str, Any] = {
        "report": {
            "device": chance.choice([address, address.lower(), "0x" + address[2:].upper()]),
            "day": value(MAX_UINT32),
            **{name: value(MAX_COUNT) for name in COUNTS},
            "movingS": value(MAX_UINT32),
            "traceHash": "0x" + chance.randbytes(32).hex(),
        },
        "signature": "0x" + chance.randbytes(chance.choice([0, 64, 65, 66])).hex(),
    }
    if chance.random() < 0.5:
        data["chainId"] = value(MAX_COUNT)
    if chance.random() < 0.5:
        data["registry"] = to_checksum_address(chance.randbytes(20)).lower()
    return data


def constructed(data: dict[str, Any]) -> SignedReport:
    """The signed report as the dataclasses' own constructors (with their checks) make it."""
    report = data["report"]
    registry = data.get("registry")
    return SignedReport(
        report=DailyReport(
            device=to_checksum_address(report["device"]),
            day=report["day"],
            sequence=report["sequence"],
            odometer_start_m=report["odometerStartM"],
            odometer_end_m=report["odometerEndM"],
            distance_m=report["distanceM"],
            moving_s=report["movingS"],
            energy_wh=report["energyWh"],
            fuel_ml=report["fuelMl"],
            trace_hash=bytes.fromhex(report["traceHash"][2:]),
        ),
        signature=bytes.fromhex(data["signature"][2:]),
        chain_id=data.get("chainId"),
        registry=None if registry is None else to_checksum_address(registry),
    )


def test_parsed_reports_are_the_reports_the_constructors_make() -> None:
    chance = random.Random(42)
    for _ in range(500):
        data = wire_report(chance)
        expected = constructed(data)
        for parsed in (parse_report_line(json.dumps(data)), parse_signed_report(data)):
            assert parsed == expected and hash(parsed) == hash(expected)
            assert vars(parsed).keys() == {f.name for f in fields(SignedReport)}
            assert vars(parsed.report).keys() == {f.name for f in fields(DailyReport)}
            assert parsed.report.struct_hash() == expected.report.struct_hash()
            parsed.report.__post_init__()  # the checks it was built without hold


def test_the_schema_bounds_are_within_the_reports_own() -> None:
    """What the schema lets through, DailyReport's checks would too: one past it, both refuse."""
    data = wire_report(random.Random(1))
    for name, top in [("day", MAX_UINT32), ("movingS", MAX_UINT32), *((name, MAX_COUNT) for name in COUNTS)]:
        at_bound = data | {"report": data["report"] | {name: top}}
        assert parse_report_line(json.dumps(at_bound)) == constructed(at_bound)
        for beyond in (top + 1, -1):
            with pytest.raises(ValueError, match=rf"report\.{name}: Input should be"):
                parse_report_line(json.dumps(data | {"report": data["report"] | {name: beyond}}))
    with pytest.raises(ValueError, match=r"report\.traceHash: String should match pattern"):
        parse_report_line(json.dumps(data | {"report": data["report"] | {"traceHash": "0x" + "00" * 31}}))


def test_a_built_report_is_still_frozen() -> None:
    parsed = SignedReportIn.model_validate(wire_report(random.Random(2))).to_signed()
    with pytest.raises(AttributeError):
        parsed.report.day = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        parsed.signature = b""  # type: ignore[misc]
