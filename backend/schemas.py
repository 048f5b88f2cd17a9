"""What the API returns. Amounts are strings of integers (grams, or wei) with a decimal kg string beside."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

from backend.db import UINT256_MAX
from contracts.addresses import Address
from contracts.client import format_kg


class Public(BaseModel):
    """Response models: camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Amount(Public):
    grams: str
    kg: str

    @classmethod
    def of(cls, grams: int) -> Amount:
        return cls(grams=str(grams), kg=format_kg(grams))


Item = TypeVar("Item")


class Page(Public, Generic[Item]):
    data: list[Item]
    count: int
    """How many items match in all, across pages."""


class AccountPublic(Public):
    address: str
    balance: Amount
    minted: Amount
    bought: Amount
    sold: Amount
    retired: Amount


class TransferPublic(Public):
    kind: str
    """mint, transfer or burn."""
    sender: str
    recipient: str
    amount: Amount
    block_number: int
    tx_hash: str
    log_index: int


class CreditedDayPublic(Public):
    day: int
    """UTC day as on chain: days since 1970-01-01."""
    date: str
    """The same day as an ISO date."""
    device: str
    grams: Amount
    batch_id: int
    methodology_id: int
    tx_hash: str


class DevicePublic(Public):
    address: str
    owner: str
    owner_since: int
    """The first UTC day (days since 1970-01-01) credited to this owner."""
    vehicle_class: str
    status: str
    credited_days: int
    credited: Amount


class DeviceDetail(DevicePublic):
    days: list[CreditedDayPublic]


class ListingPublic(Public):
    listing_id: int
    seller: str
    amount: Amount
    remaining: Amount
    price_per_kg_wei: str
    status: str


class RetirementPublic(Public):
    retirement_id: int
    account: str
    amount: Amount
    beneficiary: str
    purpose: str
    period_start: str | None
    """First day of the consumption offset (ISO date), if the retirement names one."""
    period_end: str | None
    retired_at: datetime
    block_number: int
    tx_hash: str


class StatsPublic(Public):
    minted: Amount
    retired: Amount
    circulating: Amount
    drivers: int
    devices: int
    credited_days: int
    open_listings: int
    retirements: int


class HealthPublic(Public):
    chain_head: int
    indexed_block: int
    lag_blocks: int
    supply_indexed: Amount
    supply_on_chain: Amount
    supply_matches: bool
    """Sum of indexed balances = totalSupply on chain, and minted = circulating + retired (when caught up)."""


# ---------------------------------------------------------------------------------------- inputs

DIGITS = re.compile(r"[0-9]{1,78}")


def parse_uint(value: object) -> int:
    """An exact amount: a JSON integer or a string of decimal digits; never a float, a fraction or a
    boolean (money is counted in whole grams and wei)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer written as a string of decimal digits")
    if isinstance(value, str):
        if not DIGITS.fullmatch(value):
            raise ValueError("must be a string of decimal digits (whole grams or wei, no fraction or sign)")
        value = int(value)
    if not 0 <= value <= UINT256_MAX:
        raise ValueError("must be between 0 and 2^256 − 1")
    return value


def positive(value: int) -> int:
    if value == 0:
        raise ValueError("must be at least 1")
    return value


UINT_SCHEMA = {"type": "string", "pattern": "^[0-9]{1,78}$", "examples": ["1500"]}
Uint = Annotated[int, BeforeValidator(parse_uint), WithJsonSchema(UINT_SCHEMA)]
"""A uint256 amount in JSON: a string of digits (a JSON integer is accepted too, a float never)."""
Grams = Annotated[int, BeforeValidator(parse_uint), AfterValidator(positive), WithJsonSchema(UINT_SCHEMA)]
HexData = Annotated[str, Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=262_144)]


class RequestBody(BaseModel):
    """Request bodies: camelCase in JSON, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


EPOCH = date(1970, 1, 1)


MAX_TEXT_BYTES = 256
"""CreditToken.MAX_TEXT_LENGTH: a beneficiary or purpose is at most this many bytes of UTF-8."""


def _fits_on_chain(text: str) -> str:
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise ValueError(f"at most {MAX_TEXT_BYTES} bytes of UTF-8 (the token's limit), this is {len(text.encode())}")
    return text


ChainText = Annotated[str, AfterValidator(_fits_on_chain)]


class RetireRequest(RequestBody):
    beneficiary: ChainText = Field(min_length=1, description="who the offset is claimed for (at most 256 bytes)")
    purpose: ChainText = Field(default="", description="at most 256 bytes of UTF-8")
    period_start: date | None = Field(default=None, description="first day of the consumption offset")
    period_end: date | None = None

    @model_validator(mode="after")
    def _period(self) -> RetireRequest:
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("periodStart and periodEnd go together")
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("periodStart is after periodEnd")
        if self.period_start is not None and self.period_start <= EPOCH:
            raise ValueError("a consumption period starts after 1970-01-01 (the chain counts days from then)")
        return self


class OrderRequest(RequestBody):
    buyer: Address = Field(description="the account that will sign and send the transaction")
    grams: Grams
    max_price_wei: Uint | None = Field(
        default=None, description="the most the buyer will pay: sent as the value, the market refunds the rest"
    )
    retire: RetireRequest | None = Field(default=None, description="retire the credits at once (buyAndRetire)")


class ListingRequest(RequestBody):
    seller: Address = Field(description="the account whose credits are listed; it signs and sends")
    grams: Grams
    price_per_kg_wei: Grams = Field(description="the price of a kilogram, in wei")


class SellerRequest(RequestBody):
    seller: Address = Field(description="the listing's seller; it signs and sends")


class RelayRequest(RequestBody):
    raw_transaction: HexData = Field(
        description="a transaction signed by its sender, as eth_sendRawTransaction takes it"
    )


class PermitTransferRequest(RequestBody):
    owner: Address
    to: Address
    value: Grams
    deadline: Uint = Field(description="unix time after which the permit is void")
    signature: HexData = Field(description="r ‖ s ‖ v (65 bytes) over the EIP-2612 permit from /v1/permits/transfer")


# --------------------------------------------------------------------------------------- outputs


class TakePublic(Public):
    listing_id: int
    seller: str
    grams: Amount
    price_wei: str
    price_per_kg_wei: str


class QuotePublic(Public):
    requested: Amount
    available: Amount
    """What the cheapest listings hold for this request: less than requested means it cannot be filled."""
    complete: bool
    price_wei: str
    listings: list[TakePublic]


class PreparedTransaction(Public):
    """A transaction for the buyer's wallet to sign (eth_signTransaction / eth_sendTransaction fields)."""

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    data: str
    value: str
    gas: str
    chain_id: int
    nonce: int
    max_fee_per_gas: str
    """Suggested: twice the latest base fee plus the priority fee (the wallet may set its own)."""
    max_priority_fee_per_gas: str


class PreparedPublic(Public):
    kind: str
    """The contract function the transaction calls."""
    transaction: PreparedTransaction


class OrderPublic(PreparedPublic):
    kind: str
    """fillOrder, or buyAndRetire."""
    quote: QuotePublic


class ListingStepPublic(PreparedPublic):
    kind: str
    """approve (the market may not yet take these credits into escrow: send it, then ask again), or
    createListing."""


class RelayedPublic(Public):
    tx_hash: str
    sender: str
    to: str
    nonce: int


class ChainEventPublic(Public):
    contract: str
    name: str
    args: dict[str, Any]
    """Integers as strings, bytes as 0x-hex."""


class TransactionStatusPublic(Public):
    tx_hash: str
    status: str
    """pending (known to the node, not mined), succeeded, reverted, or unknown."""
    block_number: int | None = None
    gas_used: str | None = None
    events: list[ChainEventPublic] = []
    """The registry's events the transaction emitted (a buy-and-retire's OrderFilled names its retirement)."""


class PermitTypedData(Public):
    """EIP-712 typed data for eth_signTypedData_v4: a permit for the relayer to move `value` grams."""

    types: dict[str, list[dict[str, str]]]
    primary_type: str
    domain: dict[str, Any]
    message: dict[str, Any]


class PermitRelayedPublic(Public):
    permit_tx_hash: str
    transfer_tx_hash: str
    relayer: str


class BatchPublic(Public):
    batch_id: int
    methodology_id: int
    methodology_uri: str | None
    day: int
    date: str
    credits: int
    grams: Amount
    evidence_root: str
    tx_hash: str
    block_number: int


class CertificatePublic(RetirementPublic):
    """A retirement with where its credits came from and how to check it on chain."""

    sources: list[str]
    """The accounts the retired credits came from (the retiring account, or the sellers it bought from)."""
    batches: list[BatchPublic]
    """Mint batches that credited those accounts before the retirement. Credits are fungible: these are
    the batches the retired credits can have come from, each with its methodology and evidence root."""
    verify: dict[str, Any]


class DailyStatPublic(Public):
    date: str
    minted: Amount
    """Credited for this UTC day (the day driven or not driven, not the day of the mint)."""
    retired: Amount
    """Retired in blocks of this UTC day."""
    active_drivers: int
    """Owners credited for this day."""
    traded: Amount
    average_price_per_kg_wei: str | None
    """Volume-weighted over the day's fills, rounded down; None on a day without trades."""


class MethodologyPublic(Public):
    methodology_id: int
    params_hash: str
    max_grams_per_device_day: int
    uri: str
    active: bool


class ContractPublic(Public):
    address: str
    paused: bool
    roles: dict[str, list[str]]
    """Role name (or id, if unknown) → the accounts holding it, from RoleGranted and RoleRevoked."""


class ContractsPublic(Public):
    chain_id: int
    deployment_block: int
    registry: ContractPublic
    token: ContractPublic
    market: ContractPublic
    fee_bps: int
    fee_recipient: str | None
    methodologies: list[MethodologyPublic]
