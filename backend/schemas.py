"""What the API returns. Amounts are strings of integers (grams, or wei) with a decimal kg string beside."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

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
    grams: Amount
    batch_id: int
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
