"""What happened to a device's reports, day by day, in terms a driver can follow: what the device
reported, what the oracle decided and why, the grams, and the mint transaction that paid them.

Only reports the device itself signed are shown. Anyone can send a report naming any device; those whose
signature was not the device's are counted, not listed, so that nobody can fill a driver's page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from contracts.client import day_label, format_kg
from oracle.store import BatchStatus, Claim, ClaimStatus, MintBatch, OracleStore, ReportRecord, ReportStatus

MAX_DAYS = 366
"""The longest span one explanation covers."""


class Outcome(StrEnum):
    CREDITED = "credited"
    """Minted: the grams are in the owner's balance."""
    MINTING = "minting"
    """In a mint transaction that is not confirmed yet."""
    PENDING = "pending"
    """Accepted, waiting for the next batch."""
    HELD = "held"
    """Accepted, but set aside for an operator (the note says why)."""
    NOTHING_EARNED = "nothing earned"
    """Accepted, worth 0 g under the methodology."""
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReportSeen:
    """One report the device signed for the day, and the decision on it."""

    digest: str
    received_at: datetime
    sequence: int
    odometer_start_m: int
    odometer_end_m: int
    distance_m: int
    moving_s: int
    energy_wh: int
    fuel_ml: int
    status: ReportStatus
    code: str
    message: str
    flags: list[str]


@dataclass(frozen=True)
class Mint:
    """The mint transaction that pays (or will pay) a claim."""

    batch_id: int
    status: BatchStatus
    tx_hash: str | None
    block_number: int | None
    chain_batch_id: int | None


@dataclass(frozen=True)
class DayExplanation:
    day: int
    outcome: Outcome
    grams: int
    rule: str | None
    methodology_id: int | None
    reason: str
    """The decision in words: the methodology's explanation, or the last rejection's code and message."""
    note: str | None
    reports: list[ReportSeen]
    mint: Mint | None


@dataclass(frozen=True)
class DeviceExplanation:
    device: str
    first_day: int
    last_day: int
    days: list[DayExplanation]
    forged_reports: int
    """Reports in the span that named this device but were not signed by its key."""


def explain(store: OracleStore, device: str, first_day: int, last_day: int) -> DeviceExplanation:
    """Every day in [first_day, last_day] on which the device's own key sent a report, oldest first."""
    if last_day < first_day:
        raise ValueError(f"the span ends ({day_label(last_day)}) before it starts ({day_label(first_day)})")
    if last_day - first_day >= MAX_DAYS:
        raise ValueError(f"a span covers at most {MAX_DAYS} days")
    in_span = (ReportRecord.device == device, col(ReportRecord.day) >= first_day, col(ReportRecord.day) <= last_day)
    with store.session() as session:
        records = list(session.exec(select(ReportRecord).where(*in_span, ReportRecord.signer == device)))
        not_signed_by_device = or_(col(ReportRecord.signer).is_(None), col(ReportRecord.signer) != device)
        forged = session.exec(
            select(func.count()).select_from(ReportRecord).where(*in_span, not_signed_by_device)
        ).one()
        claims = _claims_by_report(session, [record.id for record in records if record.id is not None])
        batches = _batches(session, {claim.batch_id for claim in claims.values() if claim.batch_id is not None})
    by_day: dict[int, list[ReportRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.day, r.received_at, r.id or 0)):
        by_day[record.day].append(record)
    days = [_day(day, by_day[day], claims, batches) for day in sorted(by_day)]
    return DeviceExplanation(device, first_day, last_day, days, forged)


def _day(
    day: int, records: list[ReportRecord], claims: dict[int, Claim], batches: dict[int, MintBatch]
) -> DayExplanation:
    seen = [_seen(record) for record in records]
    accepted = next((r for r in records if r.status is ReportStatus.ACCEPTED), None)
    if accepted is None:
        last = records[-1]
        reason = f"{last.code}: {last.message}"
        return DayExplanation(day, Outcome.REJECTED, 0, None, None, reason, None, seen, None)
    assert accepted.id is not None
    claim = claims.get(accepted.id)
    mint = None
    if claim is None:
        outcome = Outcome.NOTHING_EARNED
    elif claim.status is ClaimStatus.HELD:
        outcome = Outcome.HELD
    elif claim.batch_id is None:
        outcome = Outcome.PENDING
    else:
        batch = batches[claim.batch_id]
        mint = Mint(claim.batch_id, batch.status, batch.tx_hash, batch.block_number, batch.chain_batch_id)
        outcome = Outcome.CREDITED if claim.status is ClaimStatus.MINTED else Outcome.MINTING
    note = None if claim is None else claim.note
    return DayExplanation(
        day, outcome, accepted.grams, accepted.rule, accepted.methodology_id, accepted.message, note, seen, mint
    )


def _seen(record: ReportRecord) -> ReportSeen:
    return ReportSeen(
        digest=record.digest,
        received_at=record.received_at,
        sequence=record.sequence,
        odometer_start_m=record.odometer_start_m,
        odometer_end_m=record.odometer_end_m,
        distance_m=record.distance_m,
        moving_s=record.moving_s,
        energy_wh=record.energy_wh,
        fuel_ml=record.fuel_ml,
        status=record.status,
        code=record.code,
        message=record.message,
        flags=record.flags.split(",") if record.flags else [],
    )


def _claims_by_report(session: Session, report_ids: list[int]) -> dict[int, Claim]:
    if not report_ids:
        return {}
    return {claim.report_id: claim for claim in session.exec(select(Claim).where(col(Claim.report_id).in_(report_ids)))}


def _batches(session: Session, batch_ids: set[int]) -> dict[int, MintBatch]:
    if not batch_ids:
        return {}
    found = session.exec(select(MintBatch).where(col(MintBatch.id).in_(batch_ids)))
    return {batch.id: batch for batch in found if batch.id is not None}


def describe(explanation: DeviceExplanation) -> str:
    """The explanation as text, for the command line."""
    lines = [f"Device {explanation.device}, {day_label(explanation.first_day)} to {day_label(explanation.last_day)}:"]
    if not explanation.days:
        lines.append("  no report signed by this device in this span")
    for day in explanation.days:
        lines.append(f"\n{day_label(day.day)}: {day.outcome.value}, {format_kg(day.grams)} kg")
        for report in day.reports:
            lines.append(
                f"  report {report.digest[:10]}… received {report.received_at:%Y-%m-%d %H:%M} UTC: "
                f"{report.distance_m:,} m in {report.moving_s:,} s moving, {report.energy_wh:,} Wh, "
                f"{report.fuel_ml:,} ml, odometer {report.odometer_start_m:,} → {report.odometer_end_m:,} m"
            )
            flags = f" [{', '.join(report.flags)}]" if report.flags else ""
            lines.append(f"    {report.status.value} ({report.code}){flags}: {report.message}")
        if day.methodology_id is not None and day.rule is not None:
            lines.append(f"  methodology v{day.methodology_id}, rule {day.rule}")
        if day.note is not None:
            lines.append(f"  held: {day.note}")
        if day.mint is not None:
            where = f"block {day.mint.block_number}" if day.mint.block_number is not None else "not yet mined"
            lines.append(f"  mint: batch {day.mint.batch_id} ({day.mint.status.value}), {day.mint.tx_hash}, {where}")
    if explanation.forged_reports:
        lines.append(
            f"\n{explanation.forged_reports} more report(s) named this device without its signature; not shown."
        )
    return "\n".join(lines)
