"""Keccak-256, EIP-55 addresses and 32-byte ABI words, for the paths that run once per report or credit.

eth-utils' `keccak` dispatches through eth-hash's backends (about 9 µs for 64 bytes here) and
`to_checksum_address` adds two more hashes' worth of Python; pysha3's C keccak takes 1.6 µs. At 10,000
reports a second, each has 100 µs in all and libsecp256k1's recovery takes 55 of them, so the hot paths
hash and encode here. Tests compare every function with eth-utils and eth-abi.
"""

from __future__ import annotations

from typing import cast

from eth_typing import ChecksumAddress
from sha3 import keccak_256

# EIP-55 upper-cases a hex letter where the same nibble of keccak(lower-case hex) is 8 or more. In ASCII,
# upper case is lower case without bit 0x20; these tables mark, per character, where to clear it.
_NIBBLE_AT_LEAST_8 = bytes.maketrans(b"0123456789abcdef", bytes(8) + b"\x20" * 8)
_HEX_LETTER = bytes.maketrans(b"0123456789abcdef", bytes(10) + b"\x20" * 6)


def keccak(data: bytes) -> bytes:
    return keccak_256(data).digest()


def checksummed(address: bytes) -> ChecksumAddress:
    """The EIP-55 form of a 20-byte address."""
    if len(address) != 20:
        raise ValueError(f"an address is 20 bytes, not {len(address)}")
    body = address.hex().encode()
    nibbles = keccak_256(body).hexdigest().encode()[:40]
    flips = int.from_bytes(nibbles.translate(_NIBBLE_AT_LEAST_8)) & int.from_bytes(body.translate(_HEX_LETTER))
    # cast, not eth-typing's NewType calls: three Python calls a report on the hot path.
    return cast(ChecksumAddress, "0x" + (int.from_bytes(body) ^ flips).to_bytes(40).decode())


def uint_word(value: int) -> bytes:
    """A uint256 ABI word; a negative value or one past 2**256 - 1 raises OverflowError."""
    return value.to_bytes(32, "big")


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address ("0x" optional)."""
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{address!r} is not a 20-byte address")
    return raw


def address_word(address: str) -> bytes:
    """An address ABI word: 12 zero bytes and the address's 20."""
    return bytes(12) + address_bytes(address)
