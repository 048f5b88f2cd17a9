"""What the indexer keeps of the chain. Amounts are uint256 columns (grams or wei), exact on any database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from backend.db import Uint256

BigInt = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit integers (chain ids and block numbers outgrow PostgreSQL's INTEGER); SQLite's INTEGER is
already 64-bit and only it auto-increments primary keys."""


class BackendModel(SQLModel, registry=registry()):
    """Base of the backend's tables: their own metadata, apart from the oracle's."""


def _amount() -> int:
    return Field(default=0, sa_column=Column(Uint256(), nullable=False))


class IndexerState(BackendModel, table=True):
    """How far the index has read the chain; written in the same transaction as the rows it covers."""

    __tablename__ = "indexer_state"

    id: int = Field(default=1, primary_key=True, sa_type=BigInt)
    chain_id: int = Field(sa_type=BigInt)
    token: str = Field(max_length=42)
    last_block: int = Field(sa_type=BigInt)
    last_hash: str | None = Field(default=None, max_length=66)
    """The hash of `last_block` when it was indexed: the next range's first block must name it as parent."""


class BlockRecord(BackendModel, table=True):
    """A block the index relies on: each that holds indexed events, and the last of each range read.
    After a reorg, the newest of them whose hash the chain still has is where the fork began."""

    __tablename__ = "block"

    number: int = Field(primary_key=True, sa_type=BigInt)
    hash: str = Field(max_length=66)
    parent_hash: str = Field(max_length=66)
    timestamp: datetime


class EventRecord(BackendModel, table=True):
    """Every indexed log, decoded; (tx_hash, log_index) makes indexing idempotent."""

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("tx_hash", "log_index", name="one_row_per_log"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    block_number: int = Field(index=True, sa_type=BigInt)
    tx_hash: str = Field(max_length=66)
    log_index: int
    contract: str = Field(max_length=32)
    name: str = Field(max_length=64, index=True)
    args: str
    """The event's arguments as JSON, integers as strings."""


class Account(BackendModel, table=True):
    """Running totals per address, in grams. The zero address is never an account."""

    address: str = Field(primary_key=True, max_length=42)
    balance: int = _amount()
    minted: int = _amount()
    bought: int = _amount()
    sold: int = _amount()
    retired: int = _amount()


class TransferRecord(BackendModel, table=True):
    """Every movement of credits, mints (from 0x0) and burns (to 0x0) included."""

    __tablename__ = "transfer"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    block_number: int = Field(sa_type=BigInt)
    tx_hash: str = Field(max_length=66)
    log_index: int
    sender: str = Field(index=True, max_length=42)
    recipient: str = Field(index=True, max_length=42)
    amount: int = _amount()


class Device(BackendModel, table=True):
    address: str = Field(primary_key=True, max_length=42)
    owner: str = Field(index=True, max_length=42)
    owner_since: int = Field(default=0, sa_type=BigInt)
    """The first UTC day credited to `owner`."""
    index: int
    vehicle_class: int
    status: int
    registered_block: int = Field(sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    """The DeviceRegistered event."""


class DeviceChange(BackendModel, table=True):
    """A change of a device's status or owner, with what it replaced (so a reorg can undo it)."""

    __tablename__ = "device_change"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    block_number: int = Field(sa_type=BigInt)
    device: str = Field(index=True, max_length=42)
    status: int
    previous_status: int
    owner: str = Field(max_length=42)
    previous_owner: str = Field(max_length=42)
    owner_since: int = Field(sa_type=BigInt)
    previous_owner_since: int = Field(sa_type=BigInt)


class CreditedDay(BackendModel, table=True):
    """Grams credited to one device for one UTC day."""

    __tablename__ = "credited_day"
    __table_args__ = (UniqueConstraint("device", "day", name="one_credit_per_device_day"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", index=True, sa_type=BigInt)
    """The batch's CreditsIssued event."""
    device: str = Field(index=True, max_length=42)
    day: int = Field(index=True, sa_type=BigInt)
    owner: str = Field(index=True, max_length=42)
    grams: int = _amount()
    batch_id: int = Field(index=True, sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    tx_hash: str = Field(max_length=66)


class MintBatchRecord(BackendModel, table=True):
    __tablename__ = "mint_batch"

    batch_id: int = Field(primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    day: int = Field(sa_type=BigInt)
    evidence_root: str = Field(max_length=66)
    credits: int = Field(sa_type=BigInt)
    grams: int = _amount()
    tx_hash: str = Field(max_length=66)
    block_number: int = Field(sa_type=BigInt)


class ListingRecord(BackendModel, table=True):
    __tablename__ = "listing"

    listing_id: int = Field(primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    """The ListingCreated event."""
    block_number: int = Field(sa_type=BigInt)
    seller: str = Field(index=True, max_length=42)
    amount: int = _amount()
    remaining: int = _amount()
    price_per_kg: int = _amount()
    """Wei per kilogram."""
    status: str = Field(max_length=16, index=True)
    tx_hash: str = Field(max_length=66)


class FillRecord(BackendModel, table=True):
    __tablename__ = "fill"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    listing_id: int = Field(index=True, sa_type=BigInt)
    buyer: str = Field(index=True, max_length=42)
    seller: str = Field(index=True, max_length=42)
    amount: int = _amount()
    price: int = _amount()
    """Wei paid."""
    fee: int = _amount()
    """Wei of the price that went to the protocol."""
    tx_hash: str = Field(max_length=66)
    block_number: int = Field(sa_type=BigInt)


class RetirementRecord(BackendModel, table=True):
    __tablename__ = "retirement"

    retirement_id: int = Field(primary_key=True, sa_type=BigInt)
    event_id: int = Field(foreign_key="event.id", unique=True, sa_type=BigInt)
    account: str = Field(index=True, max_length=42)
    amount: int = _amount()
    beneficiary: str
    purpose: str
    period_start: int = Field(default=0, sa_type=BigInt)
    period_end: int = Field(default=0, sa_type=BigInt)
    """UTC days of the consumption offset; 0 and 0 when none was given."""
    tx_hash: str = Field(max_length=66)
    block_number: int = Field(sa_type=BigInt)
    retired_at: datetime


class Totals(BackendModel, table=True):
    """Grams issued and retired so far; circulating = issued − retired."""

    id: int = Field(default=1, primary_key=True, sa_type=BigInt)
    issued: int = _amount()
    retired: int = _amount()


class IdempotentRequest(BackendModel, table=True):
    """A request sent with an Idempotency-Key: the first one is carried out, any later one with the same
    key gets the same answer (or a conflict, if its body differs)."""

    __tablename__ = "idempotent_request"

    key: str = Field(primary_key=True, max_length=255)
    endpoint: str = Field(max_length=64)
    request_hash: str = Field(max_length=66)
    status_code: int | None = None
    """None while the first request is still being carried out."""
    response: str | None = None
    """The JSON body answered."""
    created_at: datetime
