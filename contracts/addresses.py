"""Addresses at the system's boundaries: any valid form in, checksummed out, a wrong checksum refused."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from eth_typing import ChecksumAddress
from pydantic import BeforeValidator

from contracts.hashing import checksummed

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def parse_address(value: object) -> ChecksumAddress:
    """A 0x-prefixed 20-byte hex address in EIP-55 form. All-lower or all-upper case hex is accepted and
    checksummed; mixed case must be a correct checksum (a typo is refused, not silently fixed)."""
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    return _checksummed_hex(value)


@lru_cache(maxsize=1024)  # the same few addresses (a registry, an account) recur in request after request
def _checksummed_hex(value: str) -> ChecksumAddress:
    body = value[2:]
    address = checksummed(bytes.fromhex(body))
    if body != body.lower() and body != body.upper() and value != address:
        raise ValueError(f"{value} has a wrong EIP-55 checksum (expected {address})")
    return address


Address = Annotated[str, BeforeValidator(parse_address)]
"""A pydantic field type for addresses, checksummed on the way in."""
