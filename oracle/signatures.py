"""Recover the key that signed a report digest, with the same rules as OpenZeppelin's ECDSA.recover.

Pure: bytes in, an address or a `ReportRejected` out. Uses libsecp256k1 through coincurve directly.
"""

from __future__ import annotations

from coincurve import PublicKey
from eth_typing import ChecksumAddress

from contracts.hashing import checksummed, keccak
from oracle.errors import SignatureInvalid, SignatureMalformed, SignatureMalleable

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2


def recover_signer(digest: bytes, signature: bytes) -> ChecksumAddress:
    """The address whose key signed `digest` as `signature` = r ‖ s ‖ v (65 bytes), checksummed."""
    return checksummed(recover_address(digest, signature))


def recover_address(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address whose key signed `digest` as `signature` = r ‖ s ‖ v (65 bytes).

    Like OpenZeppelin's ECDSA: v must be 27 or 28 (no 0/1 form), s must be in the lower half of the
    curve order (the upper-half twin of a signature is refused, not normalised), and r and s must be
    valid scalars. A signature that recovers no key is refused, never compared with an empty address.
    """
    if len(signature) != 65:
        raise SignatureMalformed(f"a signature is 65 bytes (r ‖ s ‖ v), this one is {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureMalformed(f"v must be 27 or 28, not {v}")
    if s > HALF_N:
        raise SignatureMalleable()
    if not (0 < r < SECP256K1_N and s > 0):
        raise SignatureInvalid("r and s must be between 1 and the curve order")
    try:
        public_key = PublicKey.from_signature_and_message(signature[:64] + bytes([v - 27]), digest, hasher=None)
    except ValueError as exc:
        raise SignatureInvalid("the signature does not recover to any public key") from exc
    return keccak(public_key.format(compressed=False)[1:])[-20:]
