"""The device side: a key in the car that signs one report per UTC day."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, Hash32

from oracle.report import DailyReport, ReportDomain, SignedReport


class DeviceSigner:
    """Holds a device's secp256k1 key and signs its daily reports in the registry's EIP-712 domain."""

    def __init__(self, private_key: bytes) -> None:
        self._account: LocalAccount = Account.from_key(private_key)

    @property
    def address(self) -> ChecksumAddress:
        return self._account.address

    def sign(self, report: DailyReport, domain: ReportDomain) -> SignedReport:
        if report.device != self.address:
            raise ValueError(f"report names device {report.device}, this key is {self.address}")
        signed = self._account.unsafe_sign_hash(Hash32(domain.digest(report)))
        return SignedReport(report, bytes(signed.signature), domain.chain_id, domain.registry)
