"""Read the contracts' logs as typed events, decoded with eth-abi straight from the ABI artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_typing import ChecksumAddress
from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.types import LogReceipt

from contracts.artifacts import abi_type, load_artifact, normalise_abi_value
from contracts.client import Deployment


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log; (tx_hash, log_index) identifies it."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class _EventAbi:
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


class EventDecoder:
    """Decodes the logs of one deployment's registry, token and market."""

    def __init__(self, deployment: Deployment) -> None:
        self.contracts: dict[ChecksumAddress, str] = {
            deployment.registry: "DeviceRegistry",
            deployment.token: "CreditToken",
            deployment.market: "CreditMarket",
        }
        self._events: dict[tuple[str, bytes], _EventAbi] = {}
        for name in set(self.contracts.values()):
            for item in load_artifact(name).abi:
                if item["type"] != "event":
                    continue
                inputs = item["inputs"]
                self._events[(name, event_abi_to_log_topic(item))] = _EventAbi(  # type: ignore[arg-type]
                    name=item["name"],
                    indexed=tuple((arg["name"], abi_type(arg)) for arg in inputs if arg["indexed"]),
                    data_names=tuple(arg["name"] for arg in inputs if not arg["indexed"]),
                    data_types=tuple(abi_type(arg) for arg in inputs if not arg["indexed"]),
                )

    @property
    def addresses(self) -> list[ChecksumAddress]:
        return list(self.contracts)

    def decode(self, log: LogReceipt) -> ChainEvent | None:
        """The event in `log`, or None for a log this deployment's contracts do not define."""
        contract = self.contracts.get(to_checksum_address(log["address"]))
        topics = log["topics"]
        if contract is None or not topics:
            return None
        event = self._events.get((contract, bytes(topics[0])))
        if event is None:
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, topics[1:], strict=True):
            args[name] = normalise_abi_value(kind, abi_decode([kind], bytes(topic))[0])
        values = abi_decode(list(event.data_types), bytes(log["data"]))
        for name, kind, value in zip(event.data_names, event.data_types, values, strict=True):
            args[name] = normalise_abi_value(kind, value)
        return ChainEvent(
            contract=contract,
            name=event.name,
            args=args,
            block_number=log["blockNumber"],
            block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
            tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
            log_index=log["logIndex"],
        )

    def fetch(self, w3: Web3, from_block: int, to_block: int) -> list[ChainEvent]:
        """Every event of the deployment in blocks `from_block`..`to_block` (inclusive), in chain order."""
        logs = w3.eth.get_logs({"address": self.addresses, "fromBlock": from_block, "toBlock": to_block})
        events = (self.decode(log) for log in logs)
        return sorted((e for e in events if e is not None), key=lambda e: (e.block_number, e.log_index))
