"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from contracts.chain import ContractRevert, decoded_reverts


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
