"""The checks on a report that need no database: signature and domain, the device's registry record,
the day, plausibility and the methodology.

Pure: the caller passes the clock's reading and a lookup of device records, so the same code runs in
the ingest API, over a file, and in as many processes as there are cores. What needs the store
(duplicates, conflicts, continuity) is the service's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from eth_typing import ChecksumAddress

from contracts.client import DeviceRecord, DeviceStatus
from contracts.hashing import checksummed
from oracle.errors import DeviceSuspended, ReportRejected, SignerMismatch, UnknownDevice, WrongDomain
from oracle.methodology import Assessment, Methodology, for_vehicle
from oracle.report import ReportDomain, SignedReport
from oracle.signatures import recover_address
from oracle.validation import Limits, check_day, check_plausibility

DeviceLookup = Callable[[ChecksumAddress], DeviceRecord | None]
"""A device's registry record, or None if it is not registered."""


@dataclass(frozen=True)
class Judgement:
    """What the methodology makes of a report that passed every check (small: it may cross processes)."""

    assessment: Assessment
    methodology_id: int
    device_index: int


@dataclass(frozen=True)
class Checked:
    """A report after the checks that need no database, with what each stage found.

    Which finding a driver hears depends on the store as well, so the stages are kept apart: a
    `signature_rejection` comes before the duplicate lookup; a resent report that was accepted before is
    a success even if its device is now suspended or its day too old, so `admission_rejection` (device,
    day) comes after it; `assessment_rejection` (plausibility, methodology) comes after the checks against
    the device's earlier reports. At most one is set; `judgement` is set when none is.
    """

    signed: SignedReport
    digest: str
    signer: ChecksumAddress | None = None
    signature_rejection: ReportRejected | None = None
    admission_rejection: ReportRejected | None = None
    assessment_rejection: ReportRejected | None = None
    judgement: Judgement | None = None


class Verifier:
    """Checks signed reports for one EIP-712 domain, under the given methodologies and limits."""

    def __init__(self, domain: ReportDomain, methodologies: Sequence[Methodology], limits: Limits) -> None:
        if not methodologies:
            raise ValueError("the oracle needs at least one methodology")
        self.domain = domain
        self.methodologies = list(methodologies)
        """In order of preference: a report is assessed by the first that covers its vehicle class."""
        self.limits = limits

    def check(self, signed: SignedReport, devices: DeviceLookup, now: datetime) -> Checked:
        """Every check but those against the store. `devices` is asked only once the signature holds, so
        a forged report costs no registry read."""
        report = signed.report
        digest = self.domain.digest(report)
        digest_hex = "0x" + digest.hex()
        signer = None
        try:
            check_domain_hint(signed, self.domain)
            recovered = recover_address(digest, signed.signature)
            if recovered != bytes.fromhex(report.device[2:]):
                signer = checksummed(recovered)
                raise SignerMismatch(report.device, signer)
            signer = report.device
        except ReportRejected as rejection:
            return Checked(signed, digest_hex, signer, signature_rejection=rejection)
        try:
            device = devices(report.device)
            if device is None:
                raise UnknownDevice(report.device)
            if device.status is not DeviceStatus.ACTIVE:
                raise DeviceSuspended(report.device)
            check_day(report, now, self.limits)
        except ReportRejected as rejection:
            return Checked(signed, digest_hex, signer, admission_rejection=rejection)
        try:
            check_plausibility(report, device.vehicle_class, self.limits)
            methodology = for_vehicle(self.methodologies, device.vehicle_class)
            assessment = methodology.assess(device.vehicle_class, report)
        except ReportRejected as rejection:
            return Checked(signed, digest_hex, signer, assessment_rejection=rejection)
        judgement = Judgement(assessment, methodology.methodology_id, device.index)
        return Checked(signed, digest_hex, signer, judgement=judgement)


def check_domain_hint(signed: SignedReport, domain: ReportDomain) -> None:
    """A device that says which chain and registry it signed for hears plainly when they are not ours."""
    if signed.chain_id is not None and signed.chain_id != domain.chain_id:
        raise WrongDomain("chain id", signed.chain_id, domain.chain_id)
    if signed.registry is not None and signed.registry != domain.registry:
        raise WrongDomain("registry", signed.registry, domain.registry)
