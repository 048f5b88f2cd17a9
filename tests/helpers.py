"""Small helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from contracts.chain import ContractRevert, decoded_reverts


@contextmanager
def reverts(name: str, **expected_args: Any) -> Iterator[pytest.ExceptionInfo[ContractRevert]]:
    """Assert that the block reverts with the custom error `name` and, if given, these arguments.
    Works for transactions sent through `Sender` and for plain `.call()`s."""
    with pytest.raises(ContractRevert) as caught, decoded_reverts():
        yield caught
    assert caught.value.name == name, f"reverted with {caught.value}, expected {name}"
    for key, value in expected_args.items():
        assert caught.value.args_by_name[key] == value, f"{name}.{key} = {caught.value.args_by_name[key]!r}"
