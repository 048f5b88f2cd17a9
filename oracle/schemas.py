"""The wire format of signed reports (HTTP and JSON-lines files), validated strictly: integers must be
JSON integers (no floats, no strings, no booleans), unknown fields are refused, addresses checksummed."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from contracts.addresses import Address
from contracts.client import day_label, format_kg
from oracle.explain import DeviceExplanation, Mint
from oracle.report import DailyReport, SignedReport
from oracle.service import Decision

T = TypeVar("T")
Uint32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""uint64 on chain; capped at 2^63 − 1 so that every stored value fits a database integer."""
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
HexData = Annotated[str, Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=2 + 2 * 1024)]


class ReportIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    device: Address
    day: Uint32 = Field(description="UTC day: days since 1970-01-01")
    sequence: Count
    odometerStartM: Count
    odometerEndM: Count
    distanceM: Count
    movingS: Uint32
    energyWh: Count
    fuelMl: Count
    traceHash: Bytes32


class SignedReportIn(BaseModel):
    """A signed report. `signature` is r ‖ s ‖ v as hex; its length is checked by the oracle, which
    stores a report with a malformed signature as rejected rather than refusing the request."""

    model_config = ConfigDict(strict=True, extra="forbid")

    report: ReportIn
    signature: HexData
    chainId: Count | None = None
    registry: Address | None = None

    def to_signed(self) -> SignedReport:
        report = self.report
        return _validated(
            SignedReport,
            report=_validated(
                DailyReport,
                device=report.device,
                day=report.day,
                sequence=report.sequence,
                odometer_start_m=report.odometerStartM,
                odometer_end_m=report.odometerEndM,
                distance_m=report.distanceM,
                moving_s=report.movingS,
                energy_wh=report.energyWh,
                fuel_ml=report.fuelMl,
                trace_hash=bytes.fromhex(report.traceHash[2:]),
            ),
            signature=bytes.fromhex(self.signature[2:]),
            chain_id=self.chainId,
            registry=self.registry,
        )


def _validated(cls: type[T], **fields: Any) -> T:
    """A frozen dataclass holding values this schema has validated, made as pickle makes one: its fields
    set in one dictionary update, without the per-field `object.__setattr__` of a frozen `__init__`
    (a microsecond a report) and without `__post_init__`, whose bounds the schema's are within
    (every uint64 capped at 2^63 - 1, uint32 as is, 64 hex digits for 32 bytes; tests hold them)."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


class _Out(BaseModel):
    """Responses: camelCase names on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class DecisionOut(_Out):
    report_id: int
    digest: str
    status: str
    code: str
    message: str
    grams: str
    kg: str
    rule: str | None
    methodology_id: int | None
    flags: list[str]
    duplicate: bool

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls(
            report_id=decision.report_id,
            digest=decision.digest,
            status=decision.status.value,
            code=decision.code,
            message=decision.message,
            grams=str(decision.grams),
            kg=format_kg(decision.grams),
            rule=decision.rule,
            methodology_id=decision.methodology_id,
            flags=decision.flags,
            duplicate=decision.duplicate,
        )


def parse_signed_report(data: Any) -> SignedReport:
    """Validate one decoded JSON object as a signed report (raises pydantic's ValidationError)."""
    return SignedReportIn.model_validate(data).to_signed()


def parse_report_line(text: str | bytes) -> SignedReport:
    """One line of JSON as a signed report, parsed and validated in one pass (pydantic-core reads the
    JSON); ValueError with every problem if it is not one."""
    try:
        return SignedReportIn.model_validate_json(text).to_signed()
    except ValidationError as exc:
        errors = exc.errors()
        if errors[0]["type"] == "json_invalid":
            raise ValueError(f"not JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}") from None
        raise ValueError(
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the line'}: {e['msg']}" for e in errors)
        ) from None


@dataclass(frozen=True)
class ReportLine:
    """One line of a report file: a signed report, or why the line is not one."""

    line: int
    signed: SignedReport | None
    error: str | None = None


def read_report_file(path: Path) -> Iterator[ReportLine]:
    """The signed reports of a JSON-lines file, one object per line; blank lines are skipped. A line that
    is not a report is yielded with its error, so that one bad line does not hide the others."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)  # editors on Windows start UTF-8 files with one
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield ReportLine(number, None, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}")
                continue
            if not text.strip():
                continue
            try:
                yield ReportLine(number, parse_report_line(text))
            except ValueError as exc:
                yield ReportLine(number, None, str(exc))


class ReportSeenOut(_Out):
    digest: str
    received_at: datetime
    sequence: str
    odometer_start_m: str
    odometer_end_m: str
    distance_m: str
    moving_s: str
    energy_wh: str
    fuel_ml: str
    status: str
    code: str
    message: str
    flags: list[str]


class MintOut(_Out):
    batch_id: int
    status: str
    tx_hash: str | None
    block_number: int | None
    chain_batch_id: int | None

    @classmethod
    def of(cls, mint: Mint) -> MintOut:
        return cls(
            batch_id=mint.batch_id,
            status=mint.status.value,
            tx_hash=mint.tx_hash,
            block_number=mint.block_number,
            chain_batch_id=mint.chain_batch_id,
        )


class DayOut(_Out):
    day: int
    date: str
    outcome: str
    grams: str
    kg: str
    rule: str | None
    methodology_id: int | None
    reason: str
    note: str | None
    reports: list[ReportSeenOut]
    mint: MintOut | None


class DeviceDaysOut(_Out):
    """What happened to a device's reports, day by day (oracle.explain)."""

    device: str
    first_day: str
    last_day: str
    days: list[DayOut]
    forged_reports: int = Field(description="reports naming this device without its signature (not listed)")

    @classmethod
    def of(cls, explanation: DeviceExplanation) -> DeviceDaysOut:
        return cls(
            device=explanation.device,
            first_day=day_label(explanation.first_day),
            last_day=day_label(explanation.last_day),
            forged_reports=explanation.forged_reports,
            days=[
                DayOut(
                    day=day.day,
                    date=day_label(day.day),
                    outcome=day.outcome.value,
                    grams=str(day.grams),
                    kg=format_kg(day.grams),
                    rule=day.rule,
                    methodology_id=day.methodology_id,
                    reason=day.reason,
                    note=day.note,
                    reports=[
                        ReportSeenOut(
                            digest=r.digest,
                            received_at=r.received_at,
                            sequence=str(r.sequence),
                            odometer_start_m=str(r.odometer_start_m),
                            odometer_end_m=str(r.odometer_end_m),
                            distance_m=str(r.distance_m),
                            moving_s=str(r.moving_s),
                            energy_wh=str(r.energy_wh),
                            fuel_ml=str(r.fuel_ml),
                            status=r.status.value,
                            code=r.code,
                            message=r.message,
                            flags=r.flags,
                        )
                        for r in day.reports
                    ],
                    mint=None
                    if day.mint is None
                    else MintOut(**{**day.mint.__dict__, "status": day.mint.status.value}),
                )
                for day in explanation.days
            ],
        )
