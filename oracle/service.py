"""Ingest: verify a signed report, decide, and store the decision (with its claim) in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from contracts.client import CreditContracts, DeviceRecord, DeviceStatus, day_label
from oracle.errors import (
    DayConflict,
    DeviceSuspended,
    OracleError,
    ReportRejected,
    SignerMismatch,
    UnknownDevice,
    WrongDomain,
)
from oracle.faults import crash_point
from oracle.methodology import Assessment, Methodology, for_vehicle
from oracle.report import ReportDomain, SignedReport
from oracle.signatures import recover_signer
from oracle.store import (
    Claim,
    ConcurrentDecision,
    DeviceBaseline,
    OracleStore,
    ReportRecord,
    ReportStatus,
    utc_now,
)
from oracle.validation import ODOMETER_GAP, Limits, check_continuity, check_day, check_plausibility

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
    """True when this exact report (same EIP-712 digest) had been accepted before: nothing new was stored."""

    @classmethod
    def of(cls, record: ReportRecord, *, duplicate: bool = False) -> Decision:
        assert record.id is not None
        return cls(
            report_id=record.id,
            digest=record.digest,
            status=record.status,
            code=record.code,
            message=record.message,
            grams=record.grams,
            rule=record.rule,
            methodology_id=record.methodology_id,
            flags=record.flags.split(",") if record.flags else [],
            duplicate=duplicate,
        )


@dataclass(frozen=True)
class Judgement:
    """What the checks and the methodology made of a report that passed them."""

    assessment: Assessment
    device: DeviceRecord
    methodology: Methodology
    flags: list[str]


class Oracle:
    """Verifies device reports against the chain's registry and the methodologies, and records claims."""

    def __init__(
        self,
        store: OracleStore,
        contracts: CreditContracts,
        methodologies: Sequence[Methodology],
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not methodologies:
            raise ValueError("the oracle needs at least one methodology")
        self.store = store
        self.contracts = contracts
        self.methodologies = list(methodologies)
        """In order of preference: a report is assessed by the first that covers its vehicle class."""
        self.limits = limits or Limits()
        self.clock = clock
        self.domain = ReportDomain.from_eip712(contracts.report_domain())

    def ingest(self, signed: SignedReport) -> Decision:
        """Decide on one report and store the decision. Sending the same report again returns the first
        decision if it was accepted (idempotent); a rejected report is judged afresh each time."""
        digest = "0x" + self.domain.digest(signed.report).hex()
        for _ in range(DECISION_ATTEMPTS):
            try:
                return self._ingest(signed, digest)
            except (IntegrityError, ConcurrentDecision):
                # Another request accepted a report of this device between our read and our write: decide
                # again, against it (this one is then a duplicate, a conflict, or simply the next day).
                log.info("concurrent decision on %s; deciding %s again", signed.report.device, digest)
        raise OracleError(f"could not decide on {digest}: the device's reports kept changing under it")

    def _ingest(self, signed: SignedReport, digest: str) -> Decision:
        with self.store.session() as session:
            signer: str | None = None
            try:
                check_domain_hint(signed, self.domain)
                signer = recover_signer(bytes.fromhex(digest[2:]), signed.signature)
                if signer != signed.report.device:
                    raise SignerMismatch(signed.report.device, signer)
                earlier = self.store.accepted_by_digest(session, digest)
                if earlier is not None:
                    return Decision.of(earlier, duplicate=True)
                baseline = self.store.baseline(session, signed.report.device)
                judgement = self._judge(session, signed, baseline)
            except ReportRejected as rejection:
                record = _record(signed, digest, signer, ReportStatus.REJECTED, rejection.code, rejection.message)
                session.add(record)
                session.commit()
                log.info("rejected %s: %s", digest, rejection)
                return Decision.of(record)
            assessment = judgement.assessment
            record = _record(signed, digest, signer, ReportStatus.ACCEPTED, ACCEPTED, assessment.explanation)
            record.grams = assessment.grams
            record.rule = assessment.rule
            record.methodology_id = judgement.methodology.methodology_id
            record.flags = ",".join(judgement.flags) or None
            session.add(record)
            session.flush()
            if ODOMETER_GAP in judgement.flags and baseline is not None:
                # Before the baseline moves: moving it updates `baseline` in place.
                self.store.hold_car_free_claim(session, baseline.report_id, "the odometer moved after this day")
            self.store.advance_baseline(session, baseline, record)
            if assessment.grams > 0:
                assert record.id is not None
                report = signed.report
                session.add(
                    Claim(
                        report_id=record.id,
                        device=report.device,
                        device_index=judgement.device.index,
                        day=report.day,
                        grams=assessment.grams,
                        methodology_id=judgement.methodology.methodology_id,
                        digest=digest,
                    )
                )
            session.commit()
            crash_point("report-accepted")
            log.info("accepted %s: %s g (%s)", digest, assessment.grams, assessment.rule)
            return Decision.of(record)

    def _judge(self, session: Session, signed: SignedReport, baseline: DeviceBaseline | None) -> Judgement:
        """Everything but the signature, in the order a driver would want to hear about it."""
        report = signed.report
        device = self.contracts.device(report.device)
        if device is None:
            raise UnknownDevice(report.device)
        if device.status is not DeviceStatus.ACTIVE:
            raise DeviceSuspended(report.device)
        check_day(report, self.clock(), self.limits)
        accepted = self.store.accepted_for_day(session, report.device, report.day)
        if accepted is not None:
            raise DayConflict(day_label(report.day), accepted.digest)
        flags = check_continuity(report, None if baseline is None else baseline.last_accepted())
        check_plausibility(report, device.vehicle_class, self.limits)
        methodology = for_vehicle(self.methodologies, device.vehicle_class)
        return Judgement(methodology.assess(device.vehicle_class, report), device, methodology, flags)


def check_domain_hint(signed: SignedReport, domain: ReportDomain) -> None:
    """A device that says which chain and registry it signed for hears plainly when they are not ours."""
    if signed.chain_id is not None and signed.chain_id != domain.chain_id:
        raise WrongDomain("chain id", signed.chain_id, domain.chain_id)
    if signed.registry is not None and signed.registry != domain.registry:
        raise WrongDomain("registry", signed.registry, domain.registry)


def _record(
    signed: SignedReport, digest: str, signer: str | None, status: ReportStatus, code: str, message: str
) -> ReportRecord:
    report = signed.report
    return ReportRecord(
        digest=digest,
        device=report.device,
        day=report.day,
        sequence=report.sequence,
        odometer_start_m=report.odometer_start_m,
        odometer_end_m=report.odometer_end_m,
        distance_m=report.distance_m,
        moving_s=report.moving_s,
        energy_wh=report.energy_wh,
        fuel_ml=report.fuel_ml,
        trace_hash="0x" + report.trace_hash.hex(),
        signature="0x" + signed.signature.hex(),
        signer=signer,
        status=status,
        code=code,
        message=message,
    )
