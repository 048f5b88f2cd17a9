"""The hot-path hashing and encoding against eth-utils and eth-abi, which they replace for speed."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak as eth_utils_keccak
from eth_utils import to_checksum_address

from contracts.addresses import parse_address
from contracts.hashing import address_word, checksummed, keccak, uint_word
from oracle.report import DailyReport


def test_keccak_and_checksums_agree_with_eth_utils() -> None:
    chance = random.Random(7)
    for length in (0, 1, 32, 64, 135, 136, 137, 1000):
        data = chance.randbytes(length)
        assert keccak(data) == eth_utils_keccak(data)
    for _ in range(2_000):
        address = chance.randbytes(20)
        assert checksummed(address) == to_checksum_address(address)
    assert checksummed(bytes(20)) == "0x0000000000000000000000000000000000000000"
    with pytest.raises(ValueError, match="20 bytes"):
        checksummed(bytes(19))


def test_words_agree_with_eth_abi() -> None:
    for value in (0, 1, 2**32 - 1, 2**64, 2**256 - 1):
        assert uint_word(value) == abi_encode(["uint256"], [value])
    for bad in (-1, 2**256):
        with pytest.raises(OverflowError):
            uint_word(bad)
    address = to_checksum_address("0x" + "ab" * 20)
    assert address_word(address) == abi_encode(["address"], [address])
    with pytest.raises(ValueError, match="not a 20-byte address"):
        address_word("0x1234")


def test_an_address_in_any_case_is_checksummed_and_a_wrong_checksum_is_refused() -> None:
    checksum = to_checksum_address("0x" + "ab" * 20)
    assert parse_address(checksum.lower()) == parse_address(checksum.upper().replace("0X", "0x")) == checksum
    wrong = checksum[:2] + checksum[2].swapcase() + checksum[3:]
    with pytest.raises(ValueError, match="wrong EIP-55 checksum"):
        parse_address(wrong)
    for not_an_address in ("0x1234", "ab" * 20, 42, None, ["0x" + "ab" * 20]):
        with pytest.raises(ValueError, match="must be a 0x-prefixed 20-byte hex address"):
            parse_address(not_an_address)


@pytest.mark.parametrize(("field", "value"), [("day", 2**32), ("moving_s", -1), ("sequence", 2**64)])
def test_a_report_refuses_a_value_its_solidity_type_cannot_hold(field: str, value: int) -> None:
    fields = dict(device=to_checksum_address("0x" + "ab" * 20), day=1, sequence=1, odometer_start_m=0,
                  odometer_end_m=0, distance_m=0, moving_s=0, energy_wh=0, fuel_ml=0, trace_hash=bytes(32))  # fmt: skip
    DailyReport(**fields)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"{field} = {value} does not fit"):
        DailyReport(**(fields | {field: value}))  # type: ignore[arg-type]
