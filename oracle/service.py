"""Ingest: verify signed reports, decide, and store each decision (with its claim) in one transaction.

Reports are decided in batches, one report being a batch of one: the checks without the database run
first (oracle.verifier), then one transaction reads what the batch needs from the store (earlier
acceptances, each device's baseline), decides every report in order as if one after the other, and writes
the reports, their claims and the moved baselines. A device's baseline moves only if it is still what
the batch read; if another request moved it first, the whole batch is decided again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eth_typing import ChecksumAddress
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from contracts.client import DeviceRecord, day_label
from oracle.errors import DayConflict, OracleError, ReportRejected
from oracle.faults import crash_point
from oracle.methodology import CAR_FREE_DAY, Methodology
from oracle.report import ReportDomain, SignedReport
from oracle.store import ClaimStatus, ConcurrentDecision, OracleStore, ReportRecord, ReportStatus, utc_now
from oracle.validation import ODOMETER_GAP, LastAccepted, Limits, check_continuity
from oracle.verifier import Checked, Judgement, Verifier

log = logging.getLogger(__name__)

ACCEPTED = "ACCEPTED"
DECISION_ATTEMPTS = 5


@dataclass(frozen=True)
class Decision:
    """What the oracle decided about one report."""

    report_id: int
    digest: str
    status: ReportStatus
    code: str
    message: str
    grams: int
    rule: str | None
    methodology_id: int | None
    flags: list[str]
    duplicate: bool = False
    """True when this exact report (same EIP-712 digest) had been decided the same way before (accepted,
    or rejected for the same reason): nothing new was stored, and this is the earlier decision."""

    @classmethod
    def of(cls, record: ReportRecord, *, duplicate: bool = False) -> Decision:
        assert record.id is not None
        return cls.of_row(record.id, record.model_dump(), duplicate=duplicate)

    @classmethod
    def of_row(cls, report_id: int, row: Mapping[str, Any], *, duplicate: bool = False) -> Decision:
        """From a report row's values (a stored record's, or a row about to be written)."""
        return cls(
            report_id=report_id,
            digest=row["digest"],
            status=row["status"],
            code=row["code"],
            message=row["message"],
            grams=row["grams"],
            rule=row["rule"],
            methodology_id=row["methodology_id"],
            flags=row["flags"].split(",") if row["flags"] else [],
            duplicate=duplicate,
        )


class RegistryView(Protocol):
    """What the oracle reads from the device registry (CreditContracts provides it)."""

    def report_domain(self) -> dict[str, Any]: ...

    def device(self, device: str) -> DeviceRecord | None: ...


class Oracle:
    """Verifies device reports against the registry and the methodologies, and records claims."""

    def __init__(
        self,
        store: OracleStore,
        registry: RegistryView,
        methodologies: Sequence[Methodology],
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.registry = registry
        self.verifier = Verifier(ReportDomain.from_eip712(registry.report_domain()), methodologies, limits or Limits())
        self.clock = clock

    @property
    def domain(self) -> ReportDomain:
        return self.verifier.domain

    def ingest(self, signed: SignedReport) -> Decision:
        """Decide on one report and store the decision. Sending the same report again returns the first
        decision if it was accepted (idempotent); a rejected report is judged afresh each time."""
        return self.ingest_many([signed])[0]

    def ingest_many(self, reports: Sequence[SignedReport]) -> list[Decision]:
        """Decide on reports in the order given, as if sent one after the other, in one transaction. The
        registry is read once per device."""
        records: dict[str, DeviceRecord | None] = {}

        def device(address: ChecksumAddress) -> DeviceRecord | None:
            if address not in records:
                records[address] = self.registry.device(address)
            return records[address]

        now = self.clock()
        return self.decide([self.verifier.check(signed, device, now) for signed in reports])

    def decide(self, checked: Sequence[Checked]) -> list[Decision]:
        """Decide on reports that passed through the verifier (in this process or another) and store the
        decisions, all or none."""
        for _ in range(DECISION_ATTEMPTS):
            try:
                return self._decide(checked)
            except (IntegrityError, ConcurrentDecision):
                # Another request accepted a report of one of these devices between our read and our
                # write: decide again, against it (a report may now be a duplicate, a conflict, or simply
                # the next day).
                log.info("concurrent decision on a batch of %s reports; deciding again", len(checked))
        raise OracleError(f"could not decide on {len(checked)} reports: their devices' reports kept changing")

    def _decide(self, checked: Sequence[Checked]) -> list[Decision]:
        with self.store.session() as session:
            batch = _DecisionBatch(session, checked)
            for item in checked:
                batch.decide(item)
            decisions = batch.write()
            session.commit()
        crash_point("report-accepted")
        return decisions


class _DecisionBatch:
    """One transaction's decisions: what they read from the store, kept current as each report is decided
    (a batch may hold several days of a device, or the same report twice), and the rows to write."""

    def __init__(self, session: Session, checked: Sequence[Checked]) -> None:
        self.session = session
        self.now = utc_now()
        """When the decisions are stored (the verifier's clock, which judged the days, may be another)."""
        devices = {item.signed.report.device for item in checked}
        self.read_baselines = OracleStore.baselines(session, devices)
        self.baselines: dict[str, _Baseline] = {
            device: _Baseline(report_id=report_id, last=last)
            for device, (report_id, last) in self.read_baselines.items()
        }
        # Most reports are new: only those the store has seen before need their records read.
        seen = OracleStore.known_digests(session, {item.digest for item in checked})
        self.earlier = OracleStore.accepted_by_digest(session, seen)
        self.rejected: dict[str, int | ReportRecord] = dict(OracleStore.latest_rejections(session, seen))
        """Digest → its latest rejection: a stored record, or a row of this batch."""
        self.accepted_days = OracleStore.accepted_by_device_day(
            session, {(item.signed.report.device, item.signed.report.day) for item in checked}
        )
        self.rows: list[dict[str, Any]] = []
        self.claims: list[tuple[int, dict[str, Any]]] = []
        """(row of the report, claim) pairs."""
        self.outcomes: list[tuple[int | ReportRecord, bool]] = []
        """Per report decided: the row written for it or the stored record it repeats, and whether it is a
        repeat (the same answer again, nothing new stored)."""
        self.accepted_rows: dict[str, int] = {}
        """Digest → row, for reports accepted in this batch."""
        self.doubted_rows: set[int] = set()
        self.doubted_ids: set[int] = set()

    def decide(self, item: Checked) -> None:
        report = item.signed.report
        if item.signature_rejection is not None:
            self._reject(item, item.signature_rejection)
            return
        earlier = self.accepted_rows.get(item.digest, self.earlier.get(item.digest))
        if earlier is not None:
            self.outcomes.append((earlier, True))
            return
        baseline = self.baselines.get(report.device)
        try:
            if item.admission_rejection is not None:
                raise item.admission_rejection
            if (accepted := self.accepted_days.get((report.device, report.day))) is not None:
                raise DayConflict(day_label(report.day), accepted)
            flags = check_continuity(report, None if baseline is None else baseline.last)
            if item.assessment_rejection is not None:
                raise item.assessment_rejection
        except ReportRejected as rejection:
            self._reject(item, rejection)
            return
        assert item.judgement is not None
        self._accept(item, item.judgement, flags, baseline)

    def _reject(self, item: Checked, rejection: ReportRejected) -> None:
        earlier = self.rejected.get(item.digest)
        earlier_code = self.rows[earlier]["code"] if isinstance(earlier, int) else getattr(earlier, "code", None)
        if earlier is not None and earlier_code == rejection.code:
            # The same report refused for the same reason again: stored once, so that replaying a
            # device's rejected report cannot fill its owner's page.
            self.outcomes.append((earlier, True))
            return
        self.rejected[item.digest] = self._add_row(item, ReportStatus.REJECTED, rejection.code, rejection.message)
        log.info("rejected %s: %s", item.digest, rejection)

    def _accept(self, item: Checked, judgement: Judgement, flags: list[str], baseline: _Baseline | None) -> None:
        report = item.signed.report
        assessment = judgement.assessment
        row = self._add_row(
            item,
            ReportStatus.ACCEPTED,
            ACCEPTED,
            assessment.explanation,
            grams=assessment.grams,
            rule=assessment.rule,
            methodology_id=judgement.methodology_id,
            flags=",".join(flags) or None,
        )
        if ODOMETER_GAP in flags and baseline is not None:
            # The car moved after the baseline's day: if that day was claimed as car-free, hold the claim.
            if baseline.row is not None:
                self.doubted_rows.add(baseline.row)
            elif baseline.report_id is not None:
                self.doubted_ids.add(baseline.report_id)
        self.baselines[report.device] = _Baseline(
            row=row, last=LastAccepted(report.day, report.sequence, report.odometer_end_m)
        )
        self.accepted_rows[item.digest] = row
        self.accepted_days[(report.device, report.day)] = item.digest
        if assessment.grams > 0:
            claim = {
                "device": report.device,
                "device_index": judgement.device_index,
                "day": report.day,
                "grams": assessment.grams,
                "methodology_id": judgement.methodology_id,
                "digest": item.digest,
                "accepted_at": self.now,
                "status": ClaimStatus.PENDING,
                "note": None,
            }
            self.claims.append((row, claim))
        log.info("accepted %s: %s g (%s)", item.digest, assessment.grams, assessment.rule)

    def _add_row(self, item: Checked, status: ReportStatus, code: str, message: str, **decision: Any) -> int:
        report = item.signed.report
        self.rows.append(
            {
                "digest": item.digest,
                "device": report.device,
                "day": report.day,
                "sequence": report.sequence,
                "odometer_start_m": report.odometer_start_m,
                "odometer_end_m": report.odometer_end_m,
                "distance_m": report.distance_m,
                "moving_s": report.moving_s,
                "energy_wh": report.energy_wh,
                "fuel_ml": report.fuel_ml,
                "trace_hash": "0x" + report.trace_hash.hex(),
                "signature": "0x" + item.signed.signature.hex(),
                "signer": item.signer,
                "received_at": self.now,
                "status": status,
                "code": code,
                "message": message,
                "grams": 0,
                "rule": None,
                "methodology_id": None,
                "flags": None,
            }
            | decision
        )
        row = len(self.rows) - 1
        self.outcomes.append((row, False))
        return row

    def write(self) -> list[Decision]:
        """Write the reports, their claims and the moved baselines; the decisions, in the order decided."""
        ids = OracleStore.insert_reports(self.session, self.rows)
        doubt = "the odometer moved after this day"
        self._store_claims(ids, doubt)
        if self.doubted_ids:
            OracleStore.hold_car_free_claims(self.session, self.doubted_ids, doubt)
        moves = []
        for device, baseline in self.baselines.items():
            if baseline.row is None:
                continue  # not moved by this batch
            values = {
                "device": device,
                "report_id": ids[baseline.row],
                "day": baseline.last.day,
                "sequence": baseline.last.sequence,
                "odometer_end_m": baseline.last.odometer_end_m,
            }
            read = self.read_baselines.get(device)
            moves.append((None if read is None else read[0], values))
        OracleStore.move_baselines(self.session, moves)
        return [
            Decision.of(outcome, duplicate=True)
            if isinstance(outcome, ReportRecord)
            else Decision.of_row(ids[outcome], self.rows[outcome], duplicate=repeat)
            for outcome, repeat in self.outcomes
        ]

    def _store_claims(self, ids: list[int], doubt: str) -> None:
        rows = []
        for row, claim in self.claims:
            held = row in self.doubted_rows and self.rows[row]["rule"] == CAR_FREE_DAY
            rows.append(claim | {"report_id": ids[row]} | ({"status": ClaimStatus.HELD, "note": doubt} if held else {}))
        OracleStore.insert_claims(self.session, rows)


@dataclass(frozen=True)
class _Baseline:
    """A device's last accepted report: a stored one (`report_id`) or one accepted in this batch (`row`)."""

    last: LastAccepted
    report_id: int | None = None
    row: int | None = None
