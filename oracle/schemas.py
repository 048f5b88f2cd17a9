"""The wire format of signed reports (HTTP and JSON-lines files), validated strictly: integers must be
JSON integers (no floats, no strings, no booleans), unknown fields are refused, addresses checksummed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from contracts.addresses import Address
from contracts.client import format_kg
from oracle.report import DailyReport, SignedReport
from oracle.service import Decision

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
        return SignedReport(
            report=DailyReport.from_message(self.report.model_dump()),
            signature=bytes.fromhex(self.signature[2:]),
            chain_id=self.chainId,
            registry=self.registry,  # type: ignore[arg-type]
        )


class DecisionOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

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


@dataclass(frozen=True)
class ReportLine:
    """One line of a report file: a signed report, or why the line is not one."""

    line: int
    signed: SignedReport | None
    error: str | None = None


def read_report_file(path: Path) -> Iterator[ReportLine]:
    """The signed reports of a JSON-lines file, one object per line; blank lines are skipped. A line that
    is not a report is yielded with its error, so that one bad line does not hide the others."""
    with path.open() as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                yield ReportLine(number, parse_signed_report(json.loads(text)))
            except json.JSONDecodeError as exc:
                yield ReportLine(number, None, f"not JSON: {exc.msg} at column {exc.colno}")
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                yield ReportLine(number, None, problems)
