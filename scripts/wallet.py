"""What a wallet does with a prepared transaction: sign it with the user's own key, offline. The backend
prepares (`POST /v1/market/orders`) and relays (`POST /v1/transactions`); only the user's machine signs."""

from __future__ import annotations

import re
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from scripts.operate import OperatorError


def sign_prepared(prepared: dict[str, Any], account: LocalAccount) -> str:
    """The signed raw transaction (0x-hex) of a prepared transaction, as the API returns it (an order's
    `transaction`, or the whole order). Refuses one prepared for another account."""
    transaction = prepared.get("transaction", prepared)
    try:
        sender = to_checksum_address(transaction["from"])
        fields = {
            "to": to_checksum_address(transaction["to"]),
            "data": transaction["data"],
            "value": int(transaction["value"]),
            "gas": int(transaction["gas"]),
            "chainId": int(transaction["chainId"]),
            "nonce": int(transaction["nonce"]),
            "maxFeePerGas": int(transaction["maxFeePerGas"]),
            "maxPriorityFeePerGas": int(transaction["maxPriorityFeePerGas"]),
            "type": 2,
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise OperatorError(f"not a prepared transaction ({type(exc).__name__}: {exc})") from None
    if sender != account.address:
        raise OperatorError(f"the transaction is prepared for {sender}, the key is {account.address}'s")
    for name, number in fields.items():
        if isinstance(number, int) and not 0 <= number < 2**256:
            raise OperatorError(f"not a transaction that can be signed: {name} {number} is outside 0 .. 2^256 - 1")
    if not isinstance(fields["data"], str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", fields["data"]):
        raise OperatorError("not a transaction that can be signed: data is not 0x-hex bytes")
    return "0x" + bytes(account.sign_transaction(fields).raw_transaction).hex()
