from __future__ import annotations

import pytest
from eth_keys import keys

from oracle.device import DeviceSigner
from oracle.errors import ReportRejected, SignatureInvalid, SignatureMalformed, SignatureMalleable
from oracle.signatures import SECP256K1_N, recover_signer
from tests.conftest import key
from tests.oracle.test_report import VECTOR_DOMAIN, VECTOR_REPORT

DEVICE = DeviceSigner(key("device"))
SIGNED = DEVICE.sign(VECTOR_REPORT.replace(device=DEVICE.address), VECTOR_DOMAIN)
DIGEST = VECTOR_DOMAIN.digest(SIGNED.report)
R, S, V = SIGNED.signature[:32], SIGNED.signature[32:64], SIGNED.signature[64]


def signature(r: int | bytes, s: int | bytes, v: int) -> bytes:
    as_bytes = [x if isinstance(x, bytes) else x.to_bytes(32, "big") for x in (r, s)]
    return as_bytes[0] + as_bytes[1] + bytes([v])


def rejected(sig: bytes) -> ReportRejected:
    with pytest.raises(ReportRejected) as caught:
        recover_signer(DIGEST, sig)
    return caught.value


def test_a_good_signature_recovers_the_device() -> None:
    assert recover_signer(DIGEST, SIGNED.signature) == DEVICE.address


@pytest.mark.parametrize("length", [0, 64, 66, 130])
def test_a_signature_of_the_wrong_length_is_malformed(length: int) -> None:
    error = rejected((SIGNED.signature * 3)[:length])
    assert isinstance(error, SignatureMalformed)
    assert error.message == f"a signature is 65 bytes (r ‖ s ‖ v), this one is {length}"


@pytest.mark.parametrize("v", [0, 1, 2, 26, 29, 255])
def test_v_must_be_27_or_28_as_in_openzeppelin(v: int) -> None:
    # OpenZeppelin's ECDSA.recover refuses v = 0/1; the oracle refuses them too rather than normalising.
    error = rejected(signature(R, S, v))
    assert isinstance(error, SignatureMalformed) and error.code == "SIGNATURE_MALFORMED"
    assert error.message == f"v must be 27 or 28, not {v}"


def test_the_high_s_twin_of_a_valid_signature_is_refused() -> None:
    twin = signature(R, SECP256K1_N - int.from_bytes(S, "big"), 55 - V)  # 27 ↔ 28
    # The twin is valid ECDSA for the same key (this is the malleability) ...
    recovered = keys.Signature(vrs=(twin[64] - 27, int.from_bytes(twin[:32]), int.from_bytes(twin[32:64])))
    assert recovered.recover_public_key_from_msg_hash(DIGEST).to_checksum_address() == DEVICE.address
    # ... and the oracle refuses it, as the contracts do.
    assert isinstance(rejected(twin), SignatureMalleable)


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 0), (0, 1), (1, 0), (SECP256K1_N, 1), (2**256 - 1, 1)],
    ids=["all-zero", "r-zero", "s-zero", "r-equal-to-n", "r-above-n"],
)
def test_zero_and_out_of_range_scalars_are_invalid_never_an_empty_address(r: int, s: int) -> None:
    error = rejected(signature(r, s, 27))
    assert isinstance(error, SignatureInvalid)
    assert error.code == "SIGNATURE_INVALID"


def test_an_r_that_is_no_point_on_the_curve_recovers_nothing() -> None:
    # x = 5 has no y on secp256k1 (5³ + 7 = 132 is not a square mod p).
    error = rejected(signature(5, 1, 27))
    assert isinstance(error, SignatureInvalid)
    assert error.message == "the signature does not recover to any public key"


def test_the_scalar_bounds_are_exact() -> None:
    """r and s are compared as 32-byte words: at the bounds themselves, as the numbers they encode."""

    def outcome(sig: bytes) -> str:
        try:
            return recover_signer(DIGEST, sig)
        except ReportRejected as rejection:
            return rejection.message

    half_n = SECP256K1_N // 2
    out_of_range = "r and s must be between 1 and the curve order"
    assert outcome(signature(R, half_n + 1, V)) == SignatureMalleable().message
    assert outcome(signature(R, half_n, V)).startswith("0x")  # low s: valid, if for another key
    assert outcome(signature(SECP256K1_N, S, V)) == out_of_range
    assert outcome(signature(SECP256K1_N - 1, S, V)) != out_of_range
    assert outcome(signature(1, 1, V)) != out_of_range
