"""Typed access to a deployment of the three contracts, shared by the oracle, the backend and the scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.types import BlockIdentifier, TxReceipt

from contracts.artifacts import CONTRACT_NAMES, load_artifact
from contracts.chain import ContractRevert, Sender, decoded_reverts

EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    """A UTC calendar day as reports and credits carry it: days since 1970-01-01."""
    return (day - EPOCH).days


def day_date(number: int) -> date:
    return EPOCH + timedelta(days=number)


def day_label(number: int) -> str:
    """A day number for people: its ISO date, or the number itself past the year 9999."""
    try:
        return day_date(number).isoformat()
    except OverflowError:
        return f"day {number}"


GRAMS_PER_KG = 1000
"""The token has 3 decimals: one unit is a gram, one token a kilogram."""


def format_kg(grams: int) -> str:
    """Exact decimal kilograms of an integer number of grams: 22480 → "22.480"."""
    sign = "-" if grams < 0 else ""
    whole, rest = divmod(abs(grams), GRAMS_PER_KG)
    return f"{sign}{whole}.{rest:03d}"


class VehicleClass(IntEnum):
    """Mirrors DeviceRegistry.VehicleClass."""

    BATTERY_ELECTRIC = 1
    PETROL = 2
    OTHER = 3


class DeviceStatus(IntEnum):
    """Mirrors DeviceRegistry.DeviceStatus."""

    ACTIVE = 1
    SUSPENDED = 2


@dataclass(frozen=True)
class DeviceRecord:
    device: ChecksumAddress
    owner: ChecksumAddress
    index: int
    vehicle_class: VehicleClass
    status: DeviceStatus
    owner_since: int
    """The first UTC day credited to `owner`; earlier days belong to a previous owner."""


CREDIT_BYTES = 8
"""A credit in CreditToken.issueCredits: uint32 device index, uint32 grams, big-endian."""


def pack_credits(credits: Iterable[tuple[int, int]]) -> bytes:
    """(device index, grams) pairs in the packed form the token and the registry read."""
    return b"".join(index.to_bytes(4, "big") + grams.to_bytes(4, "big") for index, grams in credits)


def unpack_credits(packed: bytes) -> list[tuple[int, int]]:
    if len(packed) % CREDIT_BYTES:
        raise ValueError(f"{len(packed)} bytes are not whole credits of {CREDIT_BYTES}")
    return [
        (int.from_bytes(packed[i : i + 4], "big"), int.from_bytes(packed[i + 4 : i + 8], "big"))
        for i in range(0, len(packed), CREDIT_BYTES)
    ]


def unpack_owners(packed: bytes) -> list[ChecksumAddress]:
    """The 20-byte addresses DeviceRegistry.creditRecipients returns, checksummed."""
    return [to_checksum_address(packed[i : i + 20]) for i in range(0, len(packed), 20)]


@dataclass(frozen=True)
class MethodologyRegistration:
    methodology_id: int
    params_hash: bytes
    max_grams_per_device_day: int
    uri: str


@dataclass(frozen=True)
class RateLimit:
    """CreditToken's circuit breaker: at most `max_grams_per_period` issued per `period_seconds`."""

    max_grams_per_period: int = 3_000_000_000
    """3,000 t a day: a million drivers at the largest v1 credit (2.58 kg) with room to spare."""
    period_seconds: int = 86_400


def artifact_hashes() -> dict[str, str]:
    """keccak-256 of each contract's creation bytecode, as committed in contracts/build: which build a
    deployment runs."""
    return {name: "0x" + keccak(hexstr=load_artifact(name).bytecode).hex() for name in CONTRACT_NAMES}


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live: what every process needs to attach to them (a JSON manifest)."""

    chain_id: int
    registry: ChecksumAddress
    token: ChecksumAddress
    market: ChecksumAddress
    block: int
    """The block of the first contract's creation: where an indexer starts."""
    source_hash: str
    artifacts: dict[str, str] = field(default_factory=dict)
    """Contract name → keccak-256 of the creation bytecode deployed (see `artifact_hashes`)."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        data = json.loads(path.read_text())
        for role in ("registry", "token", "market"):
            data[role] = to_checksum_address(data[role])
        return cls(**data)


@dataclass(frozen=True)
class Supply:
    """minted = circulating + retired, in grams, as the token reports it."""

    issued: int
    circulating: int
    retired: int


class CreditContracts:
    """The deployed registry, token and market bound to one web3 instance, with typed reads."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        if w3.eth.chain_id != deployment.chain_id:
            raise ValueError(f"node is on chain {w3.eth.chain_id}, the deployment on {deployment.chain_id}")
        self.w3 = w3
        self.deployment = deployment
        self.registry = _bind(w3, "DeviceRegistry", deployment.registry)
        self.token = _bind(w3, "CreditToken", deployment.token)
        self.market = _bind(w3, "CreditMarket", deployment.market)

    def device(self, device: str) -> DeviceRecord | None:
        """The registry's record of a device key, or None if it was never registered."""
        address = to_checksum_address(device)
        try:
            with decoded_reverts():
                record, index = self.registry.functions.deviceOf(address).call()
        except ContractRevert as revert:
            if revert.name == "DeviceRegistryUnknownDevice":
                return None
            raise
        owner, vehicle_class, status, owner_since = record
        return DeviceRecord(address, owner, index, VehicleClass(vehicle_class), DeviceStatus(status), owner_since)

    def is_credited(self, device_index: int, day: int) -> bool:
        return bool(self.token.functions.isCredited(device_index, day).call())

    def credit_recipients(self, day: int, credits: bytes) -> list[ChecksumAddress]:
        """Who the token would credit for each packed credit on `day` (the registry's own resolution);
        raises ContractRevert for an unknown, suspended or ownerless device."""
        with decoded_reverts():
            return unpack_owners(bytes(self.registry.functions.creditRecipients(day, credits).call()))

    def chain_day(self) -> int:
        """The UTC day of the latest block (days since 1970-01-01): the token credits only earlier days."""
        return int(self.w3.eth.get_block("latest")["timestamp"]) // 86_400

    def balance_of(self, account: str) -> int:
        return int(self.token.functions.balanceOf(to_checksum_address(account)).call())

    def supply(self, block: BlockIdentifier = "latest") -> Supply:
        """The token's own totals, at `block`: all zero at a block before the token was deployed."""
        if block != "latest" and not self.w3.eth.get_code(self.token.address, block_identifier=block):
            return Supply(0, 0, 0)
        token = self.token.functions
        return Supply(
            token.totalIssued().call(block_identifier=block),
            token.totalSupply().call(block_identifier=block),
            token.totalRetired().call(block_identifier=block),
        )

    def report_domain(self) -> dict[str, Any]:
        """The EIP-712 domain devices sign reports in, as the registry itself reports it (EIP-5267)."""
        _, name, version, chain_id, verifying_contract, _, _ = self.registry.functions.eip712Domain().call()
        return {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying_contract}

    def role(self, contract: Contract, name: str) -> str:
        """A role id (such as "ORACLE_ROLE") of one of the contracts, as 0x-hex."""
        return "0x" + bytes(getattr(contract.functions, name)().call()).hex()


def _bind(w3: Web3, contract_name: str, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=load_artifact(contract_name).abi)


def _created(receipt: TxReceipt) -> ChecksumAddress:
    address = receipt["contractAddress"]
    if address is None:
        raise ValueError(f"transaction {receipt['transactionHash'].to_0x_hex()} created no contract")
    return address


ADMIN_DELAY_SECONDS = 2 * 86_400
"""How long a newly named default admin waits before taking over (two days)."""


def deploy(
    admin: Sender,
    *,
    oracle: ChecksumAddress,
    registrar: ChecksumAddress,
    methodologies: list[MethodologyRegistration],
    rate_limit: RateLimit | None = None,
    admin_delay: int = ADMIN_DELAY_SECONDS,
) -> Deployment:
    """Deploy registry, token and market from the committed artifacts, name the market in the token,
    grant the oracle and registrar roles, and publish the methodologies. `admin` keeps the admin roles
    (including pausing) of all three contracts."""
    w3 = admin.w3
    limit = rate_limit or RateLimit()
    registry_receipt = admin.deploy("DeviceRegistry", admin.address, admin_delay)
    registry_address = _created(registry_receipt)
    token_address = _created(
        admin.deploy(
            "CreditToken",
            admin.address,
            registry_address,
            admin_delay,
            limit.max_grams_per_period,
            limit.period_seconds,
        )
    )
    market_address = _created(admin.deploy("CreditMarket", admin.address, token_address, admin_delay))
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        registry=registry_address,
        token=token_address,
        market=market_address,
        block=registry_receipt["blockNumber"],
        source_hash=load_artifact("CreditToken").source_hash,
        artifacts=artifact_hashes(),
    )
    bound = CreditContracts(w3, deployment)
    admin.transact(bound.token.functions.setMarket(market_address))
    admin.transact(bound.registry.functions.grantRole(bound.role(bound.registry, "REGISTRAR_ROLE"), registrar))
    admin.transact(bound.token.functions.grantRole(bound.role(bound.token, "ORACLE_ROLE"), oracle))
    for contract in (bound.token, bound.market):
        admin.transact(contract.functions.grantRole(bound.role(contract, "PAUSER_ROLE"), admin.address))
    for method in methodologies:
        admin.transact(
            bound.token.functions.registerMethodology(
                method.methodology_id, method.params_hash, method.max_grams_per_device_day, method.uri
            )
        )
    return deployment
