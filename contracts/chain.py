"""The one way the oracle, the backend and the scripts reach the chain.

`connect` gives a web3 instance on an in-process eth-tester chain or on any JSON-RPC node; `Sender` signs
and sends transactions with a local key (a static call first, explicit gas, the receipt checked);
reverts come back as `ContractRevert`, decoded to the custom error's name and arguments.
"""

from __future__ import annotations

import ast
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth.exceptions import HeaderNotFound
from eth.exceptions import TransactionNotFound as EvmTransactionNotFound
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import serialize_transaction, serialize_transaction_receipt
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import TransactionNotFound as TesterTransactionNotFound
from eth_typing import ChecksumAddress
from eth_utils import ValidationError as EvmValidationError
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import Nonce, RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from contracts.artifacts import CONTRACT_NAMES, abi_type, load_artifact, normalise_abi_value

log = logging.getLogger(__name__)

TESTER = "tester"
"""The RPC URL that means an in-process eth-tester chain."""

GAS_HEADROOM_PERCENT = 25
"""Added to eth-tester's estimate, which ignores Prague's calldata floor (EIP-7623)."""


class ContractRevert(Exception):
    """A call or transaction reverted; `name` is the custom error's name, `args` its decoded arguments."""

    def __init__(self, name: str, args: dict[str, Any], data: str) -> None:
        self.name = name
        self.args_by_name = args
        self.data = data
        shown = ", ".join(f"{key}={value}" for key, value in args.items())
        super().__init__(f"{name}({shown})")


class TransactionReverted(Exception):
    """A transaction was mined with status 0."""

    def __init__(self, tx_hash: str, gas_used: int) -> None:
        self.tx_hash = tx_hash
        super().__init__(f"transaction {tx_hash} reverted after {gas_used} gas")


class IndexedBackend(PyEVMBackend):
    """eth-tester's py-evm backend, finding a transaction through py-evm's own hash index.

    eth-tester looks a transaction up by scanning every block back from the newest, so each receipt costs
    time in proportion to the chain's length and `eth_getLogs` (a receipt per transaction in its range)
    grows with the square of it: 50 blocks of a 300-block chain took 6.3 s. py-evm keeps an index from
    transaction hash to (block, position); with it a lookup costs the same on any chain.
    """

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._located(transaction_hash)
        return serialize_transaction(block, transaction, index, self._pending(block))

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._located(transaction_hash)
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(
            block, receipts, transaction, index, self._pending(block), self.chain.get_vm()
        )

    def _located(self, transaction_hash: bytes) -> tuple[Any, Any, int]:
        pending = self.chain.get_block()
        for index, transaction in enumerate(pending.transactions):
            if transaction.hash == transaction_hash:
                return pending, transaction, index
        try:
            number, index = self.chain.chaindb.get_transaction_index(transaction_hash)
            block = self.chain.get_canonical_block_by_number(number)
        except (EvmTransactionNotFound, HeaderNotFound):
            block = None
        # A reverted snapshot leaves the index pointing where the transaction was: check it is still there.
        if block is None or index >= len(block.transactions) or block.transactions[index].hash != transaction_hash:
            raise TesterTransactionNotFound(f"No transaction found for transaction hash: 0x{transaction_hash.hex()}")
        return block, block.transactions[index], index

    def _pending(self, block: Any) -> bool:
        return bool(block.number == self.chain.get_block().number)


class TesterProvider(EthereumTesterProvider):
    """eth-tester answering reverts as a JSON-RPC node does (code 3 and the revert data), on the
    `IndexedBackend`.

    web3's own tester provider turns revert data into text; here it is returned as hex, so web3 raises
    the same `ContractCustomError` in-process as over HTTP; a transaction py-evm refuses to include (a
    used nonce) is an RPC error, as a node answers it. py-evm is not thread-safe, so requests are
    serialised (the demo serves its APIs from threads).
    """

    def __init__(self) -> None:
        super().__init__(ethereum_tester=EthereumTester(backend=IndexedBackend()))
        self._lock = threading.RLock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            try:
                return super().make_request(method, params)
            except TransactionFailed as exc:
                return {
                    "jsonrpc": "2.0",
                    "id": self._current_request_id,
                    "error": {"code": 3, "message": "execution reverted", "data": _revert_data(exc)},
                }
            except EvmValidationError as exc:  # a transaction the node refuses: a used nonce, too little gas
                return {
                    "jsonrpc": "2.0",
                    "id": self._current_request_id,
                    "error": {"code": -32000, "message": str(exc)},
                }


def _revert_data(exc: TransactionFailed) -> str:
    """Recover the raw revert bytes that eth-tester put into its message."""
    reason = str(exc.args[0]).removeprefix("execution reverted: ")
    if reason.startswith(("b'", 'b"')):
        return HexBytes(ast.literal_eval(reason)).to_0x_hex()
    # eth-tester decoded an Error(string) into its text: encode it again.
    encoded = function_signature_to_4byte_selector("Error(string)") + abi_encode(["string"], [reason])
    return HexBytes(encoded).to_0x_hex()


def connect(rpc_url: str = TESTER) -> Web3:
    """A web3 instance: an in-process eth-tester chain for `tester`, else the JSON-RPC node at the URL."""
    if rpc_url == TESTER:
        return Web3(TesterProvider())
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))


# ---------------------------------------------------------------------------------------- reverts


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]


@cache
def _errors_by_selector() -> dict[bytes, _ErrorAbi]:
    errors = {
        function_signature_to_4byte_selector("Error(string)"): _ErrorAbi("Error", ("reason",), ("string",)),
        function_signature_to_4byte_selector("Panic(uint256)"): _ErrorAbi("Panic", ("code",), ("uint256",)),
    }
    for contract in CONTRACT_NAMES:
        for item in load_artifact(contract).abi:
            if item["type"] == "error":
                types = tuple(abi_type(arg) for arg in item["inputs"])
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                errors[selector] = _ErrorAbi(item["name"], tuple(arg["name"] for arg in item["inputs"]), types)
    return errors


def decode_revert(data: str | bytes | None) -> ContractRevert:
    """Name and arguments of the error in revert data (unknown selectors keep their hex)."""
    raw = HexBytes(data or b"")
    error = _errors_by_selector().get(bytes(raw[:4]))
    if error is None:
        return ContractRevert("UnknownRevert", {"data": raw.to_0x_hex()}, raw.to_0x_hex())
    values = abi_decode(list(error.types), bytes(raw[4:]))
    args = {
        name: normalise_abi_value(kind, value)
        for name, kind, value in zip(error.names, error.types, values, strict=True)
    }
    return ContractRevert(error.name, args, raw.to_0x_hex())


@contextmanager
def decoded_reverts() -> Iterator[None]:
    """Turn web3's revert exceptions into `ContractRevert` with the custom error decoded."""
    try:
        yield
    except ContractLogicError as exc:
        data = exc.data if isinstance(exc.data, str) else None
        raise decode_revert(data) from exc


# ---------------------------------------------------------------------------------------- sending


Transactable = ContractFunction | ContractConstructor


@dataclass(frozen=True)
class SignedCall:
    """A signed transaction not yet sent: it can be stored, then sent (again) as is."""

    tx_hash: str
    nonce: int
    raw: bytes


class Sender:
    """Signs and sends transactions for one local key. Nothing else in the project holds a key."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def next_nonce(self) -> int:
        return self.w3.eth.get_transaction_count(self.account.address, "pending")

    def sign(
        self, call: Transactable, *, value: int = 0, nonce: int | None = None, gas: int | None = None
    ) -> SignedCall:
        """Static-call `call` (a revert raises `ContractRevert` here), estimate its gas unless `gas` is
        given, and sign it."""
        params: TxParams = {"from": self.account.address, "value": Wei(value)}
        with decoded_reverts():
            if isinstance(call, ContractFunction):
                call.call(params)  # a constructor has no static call; its estimate runs it
            if gas is None:
                gas = call.estimate_gas(params) * (100 + GAS_HEADROOM_PERCENT) // 100
        params |= {"gas": gas, "nonce": Nonce(self.next_nonce() if nonce is None else nonce)}
        signed = self.account.sign_transaction(dict(call.build_transaction(params)))  # type: ignore[arg-type]
        return SignedCall(signed.hash.to_0x_hex(), params["nonce"], bytes(signed.raw_transaction))

    def send(self, signed: SignedCall, timeout: float = 120) -> TxReceipt:
        """Broadcast a signed transaction and wait for its receipt; a reverted one raises."""
        self.broadcast(signed)
        return self.wait(signed.tx_hash, timeout)

    def broadcast(self, signed: SignedCall) -> None:
        self.w3.eth.send_raw_transaction(signed.raw)

    def wait(self, tx_hash: str, timeout: float = 120) -> TxReceipt:
        receipt = self.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout)
        if receipt["status"] != 1:
            raise TransactionReverted(tx_hash, receipt["gasUsed"])
        return receipt

    def transact(self, call: Transactable, *, value: int = 0, gas: int | None = None) -> TxReceipt:
        """Sign and send `call`, and return its successful receipt."""
        return self.send(self.sign(call, value=value, gas=gas))

    def deploy(self, contract_name: str, *constructor_args: Any) -> TxReceipt:
        """Deploy one of the project's contracts from its committed artifact."""
        artifact = load_artifact(contract_name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        return self.transact(factory.constructor(*constructor_args))


def fund_from_node(w3: Web3, to: ChecksumAddress, wei: int) -> None:
    """Send ether from the node's first unlocked account (eth-tester and dev nodes have funded ones)."""
    tx_hash = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": to, "value": Wei(wei)})
    w3.eth.wait_for_transaction_receipt(tx_hash)
