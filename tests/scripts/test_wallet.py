"""`gtc sign`'s signer: a prepared transaction in, a raw signed one out, or a clear refusal."""

from __future__ import annotations

import pytest
from eth_account import Account

from scripts.operate import OperatorError
from scripts.wallet import sign_prepared

KEY = Account.from_key(b"\x01" * 32)
PREPARED = {
    "from": KEY.address,
    "to": "0x000000000000000000000000000000000000dEaD",
    "data": "0x",
    "value": "5",
    "gas": "21000",
    "chainId": 131277322940537,
    "nonce": 0,
    "maxFeePerGas": "2000000000",
    "maxPriorityFeePerGas": "1000000000",
}


def test_a_prepared_transaction_is_signed_by_the_key_it_names() -> None:
    raw = sign_prepared({"transaction": PREPARED}, KEY)
    assert Account.recover_transaction(raw) == KEY.address


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"value": "-1"}, "value -1 is outside"),
        ({"gas": str(2**256)}, "gas .* is outside"),
        ({"data": "0xzz"}, "data is not 0x-hex"),
        ({"value": "one"}, "not a prepared transaction"),
        ({"from": "0x000000000000000000000000000000000000bEEF"}, "prepared for 0x"),
    ],
)
def test_what_cannot_be_signed_is_refused_with_a_reason(change: dict[str, str], message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        sign_prepared(PREPARED | change, KEY)
