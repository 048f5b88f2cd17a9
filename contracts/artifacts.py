"""The compiled contracts as committed in contracts/build/: ABI, bytecode and provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes

SOURCE_DIR = Path(__file__).with_name("src")
BUILD_DIR = Path(__file__).with_name("build")
CONTRACT_NAMES = ("DeviceRegistry", "CreditToken", "CreditMarket")
"""The deployable contracts; contracts/src/test holds test doubles, compiled beside them."""


@dataclass(frozen=True)
class Artifact:
    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: str
    source_hash: str
    userdoc: dict[str, Any]
    """NatSpec @notice texts, as solc extracts them."""
    devdoc: dict[str, Any]
    """NatSpec @dev, @param and @return texts."""

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.contract_name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": self.compiler,
            "sourceHash": self.source_hash,
            "userdoc": self.userdoc,
            "devdoc": self.devdoc,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler=data["compiler"],
            source_hash=data["sourceHash"],
            userdoc=data["userdoc"],
            devdoc=data["devdoc"],
        )


@cache
def load_artifact(name: str) -> Artifact:
    """The committed artifact of one contract (see `make contracts` to rebuild)."""
    return Artifact.from_json(json.loads((BUILD_DIR / f"{name}.json").read_text()))


def abi_type(arg: dict[str, Any]) -> str:
    """The canonical type of an ABI input, with tuples spelled out as in signatures: `(address,uint32)[]`."""
    if arg["type"].startswith("tuple"):
        inner = ",".join(abi_type(component) for component in arg["components"])
        return f"({inner}){arg['type'][len('tuple') :]}"
    return str(arg["type"])


def normalise_abi_value(kind: str, value: Any) -> Any:
    """Decoded ABI values as the project passes them around: checksummed addresses, 0x-hex fixed bytes."""
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes") and kind != "bytes":
        return HexBytes(value).to_0x_hex()
    return value
