"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3.types import TxReceipt

from contracts.chain import ContractRevert, Sender, decoded_reverts
from contracts.client import CreditContracts, pack_credits


def with_wrong_checksum(address: str) -> str:
    """The address with the case of its first letter flipped: still valid hex, no longer valid EIP-55."""
    at = next(i for i, char in enumerate(address) if i >= 2 and char.isalpha())
    return address[:at] + address[at].swapcase() + address[at + 1 :]


@contextmanager
def reverts(name: str, **expected_args: Any) -> Iterator[pytest.ExceptionInfo[ContractRevert]]:
    """Assert that the block reverts with the custom error `name` and, if given, these arguments.
    Works for transactions sent through `Sender` and for plain `.call()`s."""
    with pytest.raises(ContractRevert) as caught, decoded_reverts():
        yield caught
    assert caught.value.name == name, f"reverted with {caught.value}, expected {name}"
    for key, value in expected_args.items():
        assert caught.value.args_by_name[key] == value, f"{name}.{key} = {caught.value.args_by_name[key]!r}"


def issue(
    contracts: CreditContracts,
    oracle: Sender,
    day: int,
    *credits: tuple[str, int],
    methodology_id: int = 1,
    root: bytes = b"\x01" * 32,
) -> TxReceipt:
    """Issue one batch for `day` as the oracle: (device address, grams) pairs, in the order given."""
    indexes = [contracts.device(device).index for device, _ in credits]  # type: ignore[union-attr]
    packed = pack_credits(zip(indexes, (grams for _, grams in credits), strict=True))
    return oracle.transact(contracts.token.functions.issueCredits(methodology_id, day, root, packed))
