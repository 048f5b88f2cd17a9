"""The device's daily report and its EIP-712 hashing, as DeviceRegistry.hashReport does it on chain.

The typed-data hash is computed directly (keccak of the fields as ABI words) rather than through
eth-account's `encode_typed_data`, which is about thirty times slower; tests check both against each
other and against the contract.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from contracts.hashing import address_bytes, keccak

DOMAIN_NAME = "Green Travel Credits"
DOMAIN_VERSION = "1"

REPORT_FIELDS: tuple[tuple[str, str], ...] = (
    ("device", "address"),
    ("day", "uint32"),
    ("sequence", "uint64"),
    ("odometerStartM", "uint64"),
    ("odometerEndM", "uint64"),
    ("distanceM", "uint64"),
    ("movingS", "uint32"),
    ("energyWh", "uint64"),
    ("fuelMl", "uint64"),
    ("traceHash", "bytes32"),
)
REPORT_TYPE = "DailyReport(" + ",".join(f"{kind} {name}" for name, kind in REPORT_FIELDS) + ")"
REPORT_TYPEHASH = keccak(REPORT_TYPE.encode())
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_TYPEHASH = keccak(DOMAIN_TYPE.encode())


def _abi_word(kind: str) -> str:
    """The struct format of one static ABI word: the value right-aligned in 32 bytes, zeros before it."""
    if kind == "address":
        return "12x20s"
    if kind == "bytes32":
        return "32s"
    code = {"uint32": "I", "uint64": "Q"}[kind]
    return f"{32 - struct.calcsize('>' + code)}x{code}"


_REPORT_WORDS = struct.Struct(">32s" + "".join(_abi_word(kind) for _, kind in REPORT_FIELDS))
"""The typehash and a report's fields as ABI words, packed in one call (a third faster than a word at a
time). A DailyReport holds only values that fit, checked when it is made, so packing never truncates."""


@dataclass(frozen=True)
class DailyReport:
    """What a device attests about one UTC day: distance in metres, seconds spent moving, EV energy in Wh,
    fuel in ml."""

    device: ChecksumAddress
    day: int
    sequence: int
    odometer_start_m: int
    odometer_end_m: int
    distance_m: int
    moving_s: int
    energy_wh: int
    fuel_ml: int
    trace_hash: bytes

    def __post_init__(self) -> None:
        # The signature covers the Solidity types: a value they cannot hold would be signed but could
        # never be checked on chain.
        for field, bits in _UINT_BITS:
            value = getattr(self, field)
            if not 0 <= value < 1 << bits:
                raise ValueError(f"{field} = {value} does not fit a uint{bits}")
        if len(self.trace_hash) != 32:
            raise ValueError(f"trace_hash is 32 bytes, not {len(self.trace_hash)}")

    @property
    def travelled_m(self) -> int:
        """How far the car went, by the larger of its two measures: the distance and the odometer."""
        return max(self.distance_m, self.odometer_end_m - self.odometer_start_m)

    def values(self) -> tuple[Any, ...]:
        """The fields in the order of REPORT_FIELDS."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def struct_hash(self) -> bytes:
        """keccak256(typehash ‖ each field as a 32-byte ABI word), as `abi.encode` lays out static fields."""
        return keccak(
            _REPORT_WORDS.pack(
                REPORT_TYPEHASH,
                address_bytes(self.device),
                self.day,
                self.sequence,
                self.odometer_start_m,
                self.odometer_end_m,
                self.distance_m,
                self.moving_s,
                self.energy_wh,
                self.fuel_ml,
                self.trace_hash,
            )
        )

    def message(self) -> dict[str, Any]:
        """The report as an EIP-712 message (camelCase names, as in the Solidity struct)."""
        return {name: value for (name, _), value in zip(REPORT_FIELDS, self.values(), strict=True)}

    def to_json(self) -> dict[str, Any]:
        data = self.message()
        data["traceHash"] = "0x" + self.trace_hash.hex()
        return data

    def replace(self, **changes: Any) -> DailyReport:
        return DailyReport(**(asdict(self) | changes))


_UINT_BITS = tuple(
    (field.name, int(kind.removeprefix("uint")))
    for field, (_, kind) in zip(fields(DailyReport), REPORT_FIELDS, strict=True)
    if kind.startswith("uint")
)
"""(attribute, bits) of each unsigned field; the dataclass declares its fields in REPORT_FIELDS' order."""


@dataclass(frozen=True)
class ReportDomain:
    """The EIP-712 domain of reports: this chain and this registry."""

    chain_id: int
    registry: ChecksumAddress
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    @classmethod
    def from_eip712(cls, domain: dict[str, Any]) -> ReportDomain:
        return cls(
            domain["chainId"], to_checksum_address(domain["verifyingContract"]), domain["name"], domain["version"]
        )

    def as_eip712(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.registry,
        }

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(self.name.encode()),
                    keccak(self.version.encode()),
                    self.chain_id,
                    self.registry,
                ],
            )
        )

    @cached_property
    def _digest_prefix(self) -> bytes:
        return b"\x19\x01" + self.separator

    def digest(self, report: DailyReport) -> bytes:
        """The 32 bytes the device signs: keccak256(0x1901 ‖ domain separator ‖ struct hash)."""
        return keccak(self._digest_prefix + report.struct_hash())


@dataclass(frozen=True)
class SignedReport:
    """A report as it travels from the device: the report, its 65-byte signature (r ‖ s ‖ v), and the
    chain and registry the device says it signed for (optional; used to explain a domain mismatch)."""

    report: DailyReport
    signature: bytes
    chain_id: int | None = None
    registry: ChecksumAddress | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"report": self.report.to_json(), "signature": "0x" + self.signature.hex()}
        if self.chain_id is not None:
            data["chainId"] = self.chain_id
        if self.registry is not None:
            data["registry"] = self.registry
        return data
