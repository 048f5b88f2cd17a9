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
_N_WORD, _HALF_N_WORD, _ZERO_WORD = SECP256K1_N.to_bytes(32), HALF_N.to_bytes(32), bytes(32)
_RECOVERY_ID = {27: b"\x00", 28: b"\x01"}
"""v as libsecp256k1 takes it (0 or 1), for the two values OpenZeppelin accepts."""


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
    r, s, v = signature[:32], signature[32:64], signature[64]
    recovery_id = _RECOVERY_ID.get(v)
    if recovery_id is None:
        raise SignatureMalformed(f"v must be 27 or 28, not {v}")
    # r and s compared as 32-byte big-endian words, which order as the numbers they encode.
    if s > _HALF_N_WORD:
        raise SignatureMalleable()
    if r == _ZERO_WORD or r >= _N_WORD or s == _ZERO_WORD:
        raise SignatureInvalid("r and s must be between 1 and the curve order")
    try:
        public_key = PublicKey.from_signature_and_message(signature[:64] + recovery_id, digest, hasher=None)
    except ValueError as exc:
        raise SignatureInvalid("the signature does not recover to any public key") from exc
    return keccak(public_key.format(compressed=False)[1:])[-20:]
