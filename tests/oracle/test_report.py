from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from contracts.client import CreditContracts
from oracle.device import DeviceSigner
from oracle.report import REPORT_FIELDS, REPORT_TYPEHASH, DailyReport, ReportDomain, SignedReport
from oracle.schemas import parse_signed_report
from tests.conftest import key

MAX64 = 2**64 - 1

VECTOR_DOMAIN = ReportDomain(chain_id=1, registry="0x000000000000000000000000000000000000dEaD")
VECTOR_REPORT = DailyReport(
    device="0x1111111111111111111111111111111111111111",
    day=18_715,
    sequence=7,
    odometer_start_m=1_000,
    odometer_end_m=50_611,
    distance_m=49_611,
    moving_s=5_400,
    energy_wh=4_425,
    fuel_ml=0,
    trace_hash=keccak(text="trace"),
)
VECTOR_DIGEST = "0xedd742d6f9ad76dee7f9a6bcbde65344f2a576c5f04c3bb56d9e50fe7bad4878"
"""The digest of VECTOR_REPORT in VECTOR_DOMAIN: a fixed point for any other implementation."""


def eth_account_digest(report: DailyReport, domain: ReportDomain) -> bytes:
    types = {"DailyReport": [{"name": name, "type": kind} for name, kind in REPORT_FIELDS]}
    message = encode_typed_data(domain.as_eip712(), types, report.message())
    return keccak(b"\x19" + message.version + message.header + message.body)


def sample_reports(device: str) -> list[DailyReport]:
    return [
        VECTOR_REPORT.replace(device=device),
        DailyReport(device, 0, 0, 0, 0, 0, 0, 0, 0, bytes(32)),
        DailyReport(device, 2**32 - 1, MAX64, MAX64, MAX64, MAX64, 2**32 - 1, MAX64, MAX64, b"\xff" * 32),
    ]


def test_the_test_vector_holds_for_the_direct_hash_and_for_eth_account() -> None:
    assert "0x" + VECTOR_DOMAIN.digest(VECTOR_REPORT).hex() == VECTOR_DIGEST
    assert "0x" + eth_account_digest(VECTOR_REPORT, VECTOR_DOMAIN).hex() == VECTOR_DIGEST


def test_the_registry_hashes_reports_exactly_as_python_does(contracts: CreditContracts) -> None:
    domain = ReportDomain.from_eip712(contracts.report_domain())
    for report in sample_reports(contracts.deployment.registry):
        on_chain = contracts.registry.functions.hashReport(report.message()).call()
        assert on_chain == domain.digest(report) == eth_account_digest(report, domain)


def test_the_domain_binds_the_chain_and_the_registry() -> None:
    other_chain = ReportDomain(chain_id=2, registry=VECTOR_DOMAIN.registry)
    other_registry = ReportDomain(chain_id=1, registry="0x000000000000000000000000000000000000bEEF")
    digests = {domain.digest(VECTOR_REPORT) for domain in (VECTOR_DOMAIN, other_chain, other_registry)}
    assert len(digests) == 3


def test_a_device_signature_recovers_to_the_device() -> None:
    device = DeviceSigner(key("device"))
    signed = device.sign(VECTOR_REPORT.replace(device=device.address), VECTOR_DOMAIN)
    digest = VECTOR_DOMAIN.digest(signed.report)
    assert Account._recover_hash(digest, signature=signed.signature) == device.address
    assert signed.signature[64] in (27, 28)


def test_a_device_signs_only_reports_naming_itself() -> None:
    with pytest.raises(ValueError, match="this key is"):
        DeviceSigner(key("device")).sign(VECTOR_REPORT, VECTOR_DOMAIN)


def test_a_signed_report_survives_its_json_form() -> None:
    device = DeviceSigner(key("device"))
    signed = device.sign(VECTOR_REPORT.replace(device=device.address), VECTOR_DOMAIN)
    assert parse_signed_report(signed.to_json()) == signed
    assert parse_signed_report(SignedReport(signed.report, signed.signature).to_json()).chain_id is None


def test_the_packed_struct_hash_is_abi_encode_of_the_fields() -> None:
    types = ["bytes32"] + [kind for _, kind in REPORT_FIELDS]
    for report in [*sample_reports(VECTOR_REPORT.device), *sample_reports("0x" + "ff" * 20)]:
        assert report.struct_hash() == keccak(abi_encode(types, [REPORT_TYPEHASH, *report.values()]))
        assert VECTOR_DOMAIN.digest(report) == eth_account_digest(report, VECTOR_DOMAIN)
