"""Relaying what users signed themselves: a signed transaction to broadcast, and an EIP-2612 permit that
the backend's relayer turns into a transfer (the driver pays no gas). The relayer's key is the backend's
own; it never holds a driver's or a buyer's.

A permit names a spender and an amount, not a recipient: the relayer is the spender, and it moves the
amount to the recipient the request names, right after submitting that very permit. Whoever holds the
signed permit can ask for that, so a driver sends it to the relay only (as they would a signed
transaction): the relay is trusted to honour the recipient, never with more than the permitted amount.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction
from eth_account.typed_transactions import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams

from backend.errors import Invalid, Refused, Unavailable, chain_refused, rpc_message
from backend.indexer import json_value
from backend.schemas import (
    ChainEventPublic,
    PermitRelayedPublic,
    PermitTransferRequest,
    PermitTypedData,
    RelayedPublic,
    TransactionStatusPublic,
)
from contracts.chain import ContractRevert, Sender, TransactionReverted, decode_revert, decoded_reverts
from contracts.client import CreditContracts
from contracts.events import EventDecoder

LEGACY_CHAIN_ID_OFFSET = 35
"""EIP-155: a legacy transaction's v is chain id × 2 + 35 or 36."""


@dataclass(frozen=True)
class SignedTransaction:
    sender: str
    to: str | None
    nonce: int
    chain_id: int | None
    value: int
    data: bytes
    gas: int


def decode_signed(raw: bytes) -> SignedTransaction:
    """The fields and the sender of a signed transaction (legacy or typed); Invalid if it is neither."""
    try:
        if raw and raw[0] >= 0xC0:  # an RLP list: a legacy transaction
            fields = Transaction.from_bytes(raw).as_dict()
            v = fields["v"]
            chain_id = (v - LEGACY_CHAIN_ID_OFFSET) // 2 if v >= LEGACY_CHAIN_ID_OFFSET else None
        else:
            fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            chain_id = fields["chainId"]
        sender = Account.recover_transaction(raw)
    except Exception as exc:  # rlp, eth-account and coincurve each raise their own
        raise Invalid("NOT_A_TRANSACTION", f"rawTransaction is not a signed transaction ({exc})") from None
    to = fields.get("to")
    return SignedTransaction(
        sender=sender,
        to=to_checksum_address(to) if to else None,
        nonce=fields["nonce"],
        chain_id=chain_id,
        value=fields["value"],
        data=bytes(fields["data"]),
        gas=fields["gas"],
    )


def relay_transaction(contracts: CreditContracts, raw: bytes) -> RelayedPublic:
    """Broadcast a transaction its sender signed, once it is for this registry's contracts on this chain
    and a static call of it passes."""
    tx = decode_signed(raw)
    deployment = contracts.deployment
    if tx.chain_id != deployment.chain_id:
        raise Invalid(
            "WRONG_CHAIN",
            f"the transaction is signed for chain {tx.chain_id}, this registry is on chain {deployment.chain_id}"
            + (" (a legacy transaction without EIP-155 replay protection)" if tx.chain_id is None else ""),
        )
    if tx.to not in (deployment.market, deployment.token, deployment.registry):
        raise Invalid(
            "NOT_FOR_THE_REGISTRY",
            f"the transaction goes to {tx.to}: this relay carries transactions to the registry's contracts only",
        )
    call: TxParams = {"from": tx.sender, "to": tx.to, "data": tx.data, "value": tx.value, "gas": tx.gas}  # type: ignore[typeddict-item]
    try:
        contracts.w3.eth.call(call)
    except ContractLogicError as exc:
        raise chain_refused("the transaction", decode_revert(exc.data if isinstance(exc.data, str) else None)) from None
    except Web3RPCError as exc:  # out of gas, insufficient funds for the value
        raise Refused("NODE_REFUSED", f"the node refuses the transaction: {rpc_message(exc)}") from None
    try:
        tx_hash = contracts.w3.eth.send_raw_transaction(raw)
    except Web3RPCError as exc:  # nonce too low, fee too low, already known with another hash
        raise Refused("NODE_REFUSED", f"the node refuses the transaction: {rpc_message(exc)}") from None
    return RelayedPublic(tx_hash=HexBytes(tx_hash).to_0x_hex(), sender=tx.sender, to=tx.to, nonce=tx.nonce)


def transaction_status(contracts: CreditContracts, decoder: EventDecoder, tx_hash: str) -> TransactionStatusPublic:
    """Where a transaction stands, with the registry's events it emitted."""
    w3 = contracts.w3
    try:
        receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
    except TransactionNotFound:
        try:
            w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return TransactionStatusPublic(tx_hash=tx_hash, status="unknown")
        return TransactionStatusPublic(tx_hash=tx_hash, status="pending")
    events = [event for event in map(decoder.decode, receipt["logs"]) if event is not None]
    return TransactionStatusPublic(
        tx_hash=tx_hash,
        status="succeeded" if receipt["status"] == 1 else "reverted",
        block_number=receipt["blockNumber"],
        gas_used=str(receipt["gasUsed"]),
        events=[
            ChainEventPublic(
                contract=event.contract,
                name=event.name,
                args={key: json_value(value) for key, value in event.args.items()},
            )
            for event in events
        ],
    )


class Relayer:
    """The backend's own account, which submits permits and the transfers they allow. One transaction at
    a time: its nonces must not collide."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self.sender.address

    def permit_typed_data(self, contracts: CreditContracts, owner: str, value: int, deadline: int) -> PermitTypedData:
        """What the owner signs (eth_signTypedData_v4) to let the relayer move `value` grams once."""
        token = contracts.token.functions
        _, name, version, chain_id, verifying_contract, _, _ = token.eip712Domain().call()
        return PermitTypedData(
            types={
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            primary_type="Permit",
            domain={"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying_contract},
            message={
                "owner": owner,
                "spender": self.address,
                "value": str(value),
                "nonce": str(token.nonces(owner).call()),
                "deadline": str(deadline),
            },
        )

    def transfer_with_permit(self, contracts: CreditContracts, request: PermitTransferRequest) -> PermitRelayedPublic:
        """Submit the owner's permit, then move the permitted grams to the recipient. Each is static-called
        first; the transfer is checked (balance, recipient, pause) before the permit is sent, so that a
        permit is not spent on a transfer that cannot happen."""
        signature = bytes(HexBytes(request.signature))
        if len(signature) != 65:
            raise Invalid("SIGNATURE_MALFORMED", f"a signature is 65 bytes (r ‖ s ‖ v), this one is {len(signature)}")
        r, s, v = signature[:32], signature[32:64], signature[64]
        token = contracts.token.functions
        balance = token.balanceOf(request.owner).call()
        if balance < request.value:
            raise Refused(
                "INSUFFICIENT_BALANCE", f"{request.owner} holds {balance} g, less than the {request.value} g to move"
            )
        with self._lock:
            try:
                with decoded_reverts():
                    # A transfer by the owner itself meets every check transferFrom makes but the allowance.
                    token.transfer(request.to, request.value).call({"from": request.owner})
                permit = self.sender.sign(
                    token.permit(request.owner, self.address, request.value, request.deadline, v, r, s)
                )
            except ContractRevert as revert:
                raise chain_refused("the permit transfer", revert) from None
            self._send(permit)
            # The permit is spent from here on: whatever stops the transfer, the answer names the permit's
            # transaction and is kept for the idempotency key (a retry would find the permit used).
            try:
                transfer = self.sender.sign(token.transferFrom(request.owner, request.to, request.value))
                self._send(transfer)
            except ContractRevert as revert:  # the owner moved the credits between the two
                raise _transfer_failed(permit.tx_hash, f"the transfer would now revert with {revert}") from None
            except Refused as refused:
                raise _transfer_failed(permit.tx_hash, refused.message) from None
            except Web3RPCError as exc:
                raise _transfer_failed(permit.tx_hash, f"the node refused the transfer: {rpc_message(exc)}") from None
        return PermitRelayedPublic(
            permit_tx_hash=permit.tx_hash, transfer_tx_hash=transfer.tx_hash, relayer=self.address
        )

    def _send(self, signed: Any) -> None:
        try:
            self.sender.send(signed)
        except TransactionReverted as exc:
            raise Refused("TRANSACTION_REVERTED", str(exc)) from None
        except Web3RPCError as exc:
            raise Unavailable(
                "NODE_REFUSED", f"the node refuses the relayer's transaction: {rpc_message(exc)}"
            ) from None


def _transfer_failed(permit_tx_hash: str, why: str) -> Refused:
    return Refused(
        "TRANSFER_FAILED",
        f"the permit was applied ({permit_tx_hash}) but the transfer did not happen: {why}. The relayer holds "
        "an allowance it will not use; ask the owner for a new permit to try again",
        permitTxHash=permit_tx_hash,
    )
