"""Addresses at the system's boundaries: any valid form in, checksummed out, a wrong checksum refused."""

from __future__ import annotations

from typing import Annotated

from eth_typing import ChecksumAddress
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address
from pydantic import BeforeValidator


def parse_address(value: object) -> ChecksumAddress:
    """A 0x-prefixed 20-byte hex address in checksum form. All-lower or all-upper case hex is accepted and
    checksummed; mixed case must be a correct EIP-55 checksum (a typo is refused, not silently fixed)."""
    if not isinstance(value, str) or not is_hex_address(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError(f"{value} has a wrong EIP-55 checksum (expected {to_checksum_address(value)})")
    return to_checksum_address(value)


Address = Annotated[str, BeforeValidator(parse_address)]
"""A pydantic field type for addresses, checksummed on the way in."""
