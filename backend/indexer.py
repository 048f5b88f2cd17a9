"""Follow the contracts' events from the deployment block into SQL, surviving reorgs and picky nodes.

Every block is read exactly once per chain: each range starts at the block after the cursor, and its
rows are written in one transaction together with the new cursor, so a crash leaves all of a range or
none of it. A log already indexed (same transaction hash and log index) is skipped, so reading a range
twice changes nothing.

Reorgs: the cursor keeps the hash of the last block read, and each range's first block must name it as
its parent. When it does not, or when the cursor's own block changed, the newest stored block that the
chain still has is the fork point: every row above it is undone, event by event from the newest, and the
blocks after it are read again. Each effect on a running total or a row's state is stored with what it
replaced, so undoing it is exact.

Nodes limit `eth_getLogs` differently (a block range, a result size, a timeout, each with its own error
code): a range the node refuses is halved until it is accepted, and grows again after a run of successes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import delete
from sqlmodel import Session, col, select
from web3 import Web3
from web3.exceptions import BlockNotFound, Web3RPCError
from web3.types import BlockData

from backend.db import Database
from backend.models import (
    Account,
    BlockRecord,
    CreditedDay,
    Device,
    DeviceChange,
    EventRecord,
    FillRecord,
    IndexerState,
    ListingRecord,
    MintBatchRecord,
    RetirementRecord,
    Totals,
    TransferRecord,
)
from contracts.client import Deployment, unpack_credits
from contracts.events import ChainEvent, EventDecoder

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

GROW_AFTER = 4
"""Successful ranges in a row after which a range that had been shrunk is doubled again."""


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    events: int
    reorgs: int = 0
    """How many times a reorg was found and rolled back during this sync."""
    head: int = 0
    """The newest block the node reported (before confirmations)."""


@dataclass(frozen=True)
class Progress:
    """Where a sync stands, after each range: for showing progress while catching up."""

    indexed_block: int
    target_block: int
    events: int


@dataclass(frozen=True)
class _Cursor:
    block: int
    hash: str | None
    """None only before the first block is read, when there is nothing to compare."""


class _Reorganised(Exception):
    """The chain no longer holds the blocks the index was built on."""


class _ChainMoved(Exception):
    """The node's answers disagree with each other (it switched forks between two calls): read again."""


class _RangeRefused(Exception):
    """The node would not answer `eth_getLogs` over this range."""


class Indexer:
    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        db: Database,
        *,
        range_blocks: int = 2_000,
        confirmations: int = 0,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.db = db
        self.decoder = EventDecoder(deployment)
        self.range_blocks = range_blocks
        """The widest range asked for; a node's refusals shrink the current `span` below it."""
        self.span = range_blocks
        self.confirmations = confirmations
        self._successes = 0

    def sync(self, progress: Callable[[Progress], None] | None = None) -> SyncResult:
        """Index every block from the cursor up to the chain head minus the confirmations, rolling back
        whatever a reorg replaced. Never goes past what the node has seen (a node that lags behind the
        index is waited for)."""
        cursor = self._cursor()
        first = cursor.block + 1
        node_head = self.w3.eth.block_number
        target = node_head - self.confirmations
        applied = reorgs = retries = 0
        if not self._still_canonical(cursor, node_head):
            cursor = self._roll_back()
            reorgs += 1
        elif cursor.block > node_head:
            log.warning("the node is at block %s, behind the index at %s: waiting for it", node_head, cursor.block)
            return SyncResult(first, cursor.block, 0, 0, node_head)
        while cursor.block < target:
            start = cursor.block + 1
            end = min(start + self.span - 1, target)
            try:
                cursor, written = self._index_range(start, end, cursor)
            except _RangeRefused:
                if self.span == 1:
                    raise
                self.span = max(1, self.span // 2)
                self._successes = 0
                log.info("the node refused blocks %s..%s; asking for %s at a time", start, end, self.span)
                continue
            except _Reorganised:
                cursor = self._roll_back()
                reorgs += 1
                continue
            except _ChainMoved:
                retries += 1
                if retries > 3:
                    log.warning("the node keeps changing its answers at blocks %s..%s; trying later", start, end)
                    break
                continue
            applied += written
            self._grow()
            if progress is not None:
                progress(Progress(cursor.block, target, applied))
        return SyncResult(first, cursor.block, applied, reorgs, node_head)

    # ------------------------------------------------------------------------------------ reading

    def _cursor(self) -> _Cursor:
        with self.db.session() as session:
            state = session.get(IndexerState, 1)
            if state is None:
                return _Cursor(self.deployment.block - 1, None)
            if state.chain_id != self.deployment.chain_id or state.token != self.deployment.token:
                raise RuntimeError(
                    f"this database indexes token {state.token} on chain {state.chain_id}, "
                    f"not {self.deployment.token} on {self.deployment.chain_id}: use another database"
                )
            return _Cursor(state.last_block, state.last_hash)

    def _still_canonical(self, cursor: _Cursor, node_head: int) -> bool:
        """Whether the chain still has the newest indexed block the node can know of: the cursor's, or,
        on a node behind the index (lagging, or on a shorter fork), the newest stored block it has."""
        if cursor.hash is None:
            return True
        if cursor.block <= node_head:
            return self._hash_of(cursor.block) in (cursor.hash, None)
        with self.db.session() as session:
            stored = session.exec(
                select(BlockRecord).where(col(BlockRecord.number) <= node_head).order_by(col(BlockRecord.number).desc())
            ).first()
        return stored is None or self._hash_of(stored.number) in (stored.hash, None)

    def _block(self, number: int) -> BlockData | None:
        try:
            return self.w3.eth.get_block(number)
        except BlockNotFound:
            return None

    def _hash_of(self, number: int) -> str | None:
        block = self._block(number)
        return None if block is None else block["hash"].to_0x_hex()

    def _logs(self, start: int, end: int) -> list[ChainEvent]:
        try:
            return self.decoder.fetch(self.w3, start, end)
        except (Web3RPCError, requests.Timeout) as exc:
            raise _RangeRefused(str(exc)) from exc
        except requests.HTTPError as exc:  # some gateways answer an oversized query with 413 or 5xx
            if exc.response is not None and exc.response.status_code in (413, 502, 503, 504):
                raise _RangeRefused(str(exc)) from exc
            raise

    def _grow(self) -> None:
        self._successes += 1
        if self.span < self.range_blocks and self._successes >= GROW_AFTER:
            self.span = min(self.range_blocks, self.span * 2)
            self._successes = 0

    def _index_range(self, start: int, end: int, cursor: _Cursor) -> tuple[_Cursor, int]:
        """Read blocks start..end and write them with the new cursor, in one transaction.

        The last block's header is read first: if the chain reorganises after that, its stored hash no
        longer matches and the next sync rolls back. The first block must continue the cursor's block;
        every log must belong to the block the header of its number names."""
        last = self._block(end)
        if last is None:
            raise _ChainMoved(f"the node no longer has block {end}")
        # Some nodes answer with logs of neighbouring blocks: each block belongs to one range only.
        events = [event for event in self._logs(start, end) if start <= event.block_number <= end]
        headers = {end: last}
        for number in sorted({start} | {event.block_number for event in events}):
            header = headers.get(number) or self._block(number)
            if header is None:
                raise _ChainMoved(f"the node no longer has block {number}")
            headers[number] = header
        if cursor.hash is not None and headers[start]["parentHash"].to_0x_hex() != cursor.hash:
            raise _Reorganised(f"block {start} does not follow the indexed block {cursor.block}")
        for event in events:
            if event.block_hash != headers[event.block_number]["hash"].to_0x_hex():
                raise _ChainMoved(f"a log of block {event.block_number} is from another fork")
        with self.db.session() as session:
            fresh = self._write(session, events, headers, end)
            session.commit()
        if fresh:
            log.info("indexed %s events in blocks %s..%s", fresh, start, end)
        return _Cursor(end, last["hash"].to_0x_hex()), fresh

    # ------------------------------------------------------------------------------------ writing

    def _write(self, session: Session, events: list[ChainEvent], headers: dict[int, BlockData], end: int) -> int:
        known = _known_logs(session, events)
        fresh = [event for event in events if (event.tx_hash, event.log_index) not in known]
        for number in sorted({event.block_number for event in fresh} | {end}):
            _record_block(session, headers[number])
        for event in fresh:
            record = EventRecord(
                block_number=event.block_number,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                contract=event.contract,
                name=event.name,
                args=json.dumps({key: json_value(value) for key, value in event.args.items()}),
            )
            session.add(record)
            session.flush()
            assert record.id is not None
            effect = EFFECTS.get(event.name)
            if effect is not None:
                effect.apply(session, event, record.id)
        state = session.get(IndexerState, 1) or IndexerState(
            chain_id=self.deployment.chain_id, token=self.deployment.token, last_block=end
        )
        state.last_block = end
        state.last_hash = headers[end]["hash"].to_0x_hex()
        session.add(state)
        return len(fresh)

    def _roll_back(self) -> _Cursor:
        """Undo everything above the newest stored block the chain still has; the cursor moves there."""
        with self.db.session() as session:
            stored = session.exec(select(BlockRecord).order_by(col(BlockRecord.number).desc())).all()
            fork = next((block for block in stored if self._hash_of(block.number) == block.hash), None)
            ancestor = fork.number if fork is not None else self.deployment.block - 1
            undone = undo_above(session, ancestor)
            state = session.get_one(IndexerState, 1)
            state.last_block = ancestor
            state.last_hash = fork.hash if fork is not None else None
            session.commit()
        log.warning("reorg: rolled back %s events above block %s; reading again from there", undone, ancestor)
        return _Cursor(ancestor, state.last_hash)


def undo_above(session: Session, block: int) -> int:
    """Undo, newest first, every event indexed above `block`, and forget those blocks."""
    events = session.exec(
        select(EventRecord)
        .where(col(EventRecord.block_number) > block)
        .order_by(col(EventRecord.block_number).desc(), col(EventRecord.log_index).desc())
    ).all()
    for event in events:
        effect = EFFECTS.get(event.name)
        if effect is not None:
            assert event.id is not None
            effect.undo(session, event.id, json.loads(event.args))
    session.flush()
    session.exec(delete(EventRecord).where(col(EventRecord.block_number) > block))
    session.exec(delete(BlockRecord).where(col(BlockRecord.number) > block))
    return len(events)


def _record_block(session: Session, header: BlockData) -> None:
    number = header["number"]
    if session.get(BlockRecord, number) is None:
        session.add(
            BlockRecord(
                number=number,
                hash=header["hash"].to_0x_hex(),
                parent_hash=header["parentHash"].to_0x_hex(),
                timestamp=datetime.fromtimestamp(header["timestamp"], UTC),
            )
        )


def json_value(value: Any) -> Any:
    """Integers as strings (JavaScript loses digits past 2^53), bytes as 0x-hex."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _known_logs(session: Session, events: list[ChainEvent]) -> set[tuple[str, int]]:
    hashes = {event.tx_hash for event in events}
    if not hashes:
        return set()
    rows = session.exec(select(EventRecord.tx_hash, EventRecord.log_index).where(col(EventRecord.tx_hash).in_(hashes)))
    return {(tx_hash, log_index) for tx_hash, log_index in rows}


# -------------------------------------------------------------------------------------- effects


def _account(session: Session, address: str) -> Account:
    account = session.get(Account, address)
    if account is None:
        account = Account(address=address)
        session.add(account)
    return account


def _totals(session: Session) -> Totals:
    totals = session.get(Totals, 1)
    if totals is None:
        totals = Totals()
        session.add(totals)
    return totals


def _one(session: Session, model: Any, event_id: int) -> Any:
    return session.exec(select(model).where(model.event_id == event_id)).one()


def _on_transfer(session: Session, event: ChainEvent, event_id: int) -> None:
    sender, recipient, value = event.args["from"], event.args["to"], event.args["value"]
    session.add(
        TransferRecord(
            event_id=event_id,
            block_number=event.block_number,
            tx_hash=event.tx_hash,
            log_index=event.log_index,
            sender=sender,
            recipient=recipient,
            amount=value,
        )
    )
    if sender != ZERO_ADDRESS:
        _account(session, sender).balance -= value
    if recipient != ZERO_ADDRESS:
        receiver = _account(session, recipient)
        receiver.balance += value
        if sender == ZERO_ADDRESS:
            receiver.minted += value


def _undo_transfer(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    row: TransferRecord = _one(session, TransferRecord, event_id)
    if row.sender != ZERO_ADDRESS:
        _account(session, row.sender).balance += row.amount
    if row.recipient != ZERO_ADDRESS:
        receiver = _account(session, row.recipient)
        receiver.balance -= row.amount
        if row.sender == ZERO_ADDRESS:
            receiver.minted -= row.amount
    session.delete(row)


def _on_credits_issued(session: Session, event: ChainEvent, event_id: int) -> None:
    """A batch: its packed credits name devices by index; the owners credited are the mint Transfers the
    token emitted for them, in the same order, just before this event."""
    args = event.args
    credits = unpack_credits(args["credits"])
    mints = session.exec(
        select(TransferRecord)
        .where(
            TransferRecord.tx_hash == event.tx_hash,
            TransferRecord.sender == ZERO_ADDRESS,
            col(TransferRecord.log_index) < event.log_index,
        )
        .order_by(col(TransferRecord.log_index).desc())
        .limit(len(credits))
    ).all()
    devices = {
        device.index: device.address
        for device in session.exec(select(Device).where(col(Device.index).in_([index for index, _ in credits])))
    }
    for (index, grams), mint in zip(credits, reversed(mints), strict=True):
        session.add(
            CreditedDay(
                event_id=event_id,
                device=devices[index],
                day=args["day"],
                owner=mint.recipient,
                grams=grams,
                batch_id=args["batchId"],
                methodology_id=args["methodologyId"],
                tx_hash=event.tx_hash,
            )
        )
    session.add(
        MintBatchRecord(
            batch_id=args["batchId"],
            event_id=event_id,
            methodology_id=args["methodologyId"],
            day=args["day"],
            evidence_root=args["evidenceRoot"],
            credits=len(credits),
            grams=args["grams"],
            tx_hash=event.tx_hash,
            block_number=event.block_number,
        )
    )
    _totals(session).issued += args["grams"]


def _undo_credits_issued(session: Session, event_id: int, args: dict[str, Any]) -> None:
    session.exec(delete(CreditedDay).where(col(CreditedDay.event_id) == event_id))
    session.delete(_one(session, MintBatchRecord, event_id))
    _totals(session).issued -= int(args["grams"])


def _on_credits_retired(session: Session, event: ChainEvent, event_id: int) -> None:
    args = event.args
    block = session.get_one(BlockRecord, event.block_number)
    session.add(
        RetirementRecord(
            retirement_id=args["retirementId"],
            event_id=event_id,
            account=args["account"],
            amount=args["amount"],
            beneficiary=args["beneficiary"],
            purpose=args["purpose"],
            period_start=args["periodStart"],
            period_end=args["periodEnd"],
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            retired_at=block.timestamp,
        )
    )
    _account(session, args["account"]).retired += args["amount"]
    _totals(session).retired += args["amount"]


def _undo_credits_retired(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    row: RetirementRecord = _one(session, RetirementRecord, event_id)
    _account(session, row.account).retired -= row.amount
    _totals(session).retired -= row.amount
    session.delete(row)


def _on_device_registered(session: Session, event: ChainEvent, event_id: int) -> None:
    args = event.args
    session.add(
        Device(
            address=args["device"],
            owner=args["owner"],
            index=args["index"],
            vehicle_class=args["vehicleClass"],
            status=1,
            registered_block=event.block_number,
            event_id=event_id,
        )
    )


def _undo_device_registered(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    session.delete(_one(session, Device, event_id))


def _on_device_changed(session: Session, event: ChainEvent, event_id: int) -> None:
    """DeviceStatusChanged or DeviceOwnerChanged, kept with the state it replaced."""
    device = session.get_one(Device, event.args["device"])
    before = (device.status, device.owner, device.owner_since)
    if event.name == "DeviceStatusChanged":
        device.status = event.args["status"]
    else:
        device.owner = event.args["newOwner"]
        device.owner_since = event.args["fromDay"]
    session.add(
        DeviceChange(
            event_id=event_id,
            block_number=event.block_number,
            device=device.address,
            status=device.status,
            previous_status=before[0],
            owner=device.owner,
            previous_owner=before[1],
            owner_since=device.owner_since,
            previous_owner_since=before[2],
        )
    )


def _undo_device_changed(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    change: DeviceChange = _one(session, DeviceChange, event_id)
    device = session.get_one(Device, change.device)
    device.status, device.owner, device.owner_since = (
        change.previous_status,
        change.previous_owner,
        change.previous_owner_since,
    )
    session.delete(change)


def _on_listing_created(session: Session, event: ChainEvent, event_id: int) -> None:
    args = event.args
    session.add(
        ListingRecord(
            listing_id=args["listingId"],
            event_id=event_id,
            block_number=event.block_number,
            seller=args["seller"],
            amount=args["amount"],
            remaining=args["amount"],
            price_per_kg=args["pricePerKg"],
            status="open",
            tx_hash=event.tx_hash,
        )
    )


def _undo_listing_created(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    session.delete(_one(session, ListingRecord, event_id))


def _on_listing_filled(session: Session, event: ChainEvent, event_id: int) -> None:
    args = event.args
    listing = session.get_one(ListingRecord, args["listingId"])
    listing.remaining -= args["amount"]
    if listing.remaining == 0:
        listing.status = "sold"
    session.add(
        FillRecord(
            event_id=event_id,
            listing_id=args["listingId"],
            buyer=args["buyer"],
            seller=args["seller"],
            amount=args["amount"],
            price=args["price"],
            fee=args["fee"],
            tx_hash=event.tx_hash,
            block_number=event.block_number,
        )
    )
    _account(session, args["buyer"]).bought += args["amount"]
    _account(session, args["seller"]).sold += args["amount"]


def _undo_listing_filled(session: Session, event_id: int, _args: dict[str, Any]) -> None:
    fill: FillRecord = _one(session, FillRecord, event_id)
    listing = session.get_one(ListingRecord, fill.listing_id)
    listing.remaining += fill.amount
    listing.status = "open"  # a fill happens only while open; a later cancel was undone before this
    _account(session, fill.buyer).bought -= fill.amount
    _account(session, fill.seller).sold -= fill.amount
    session.delete(fill)


def _on_listing_cancelled(session: Session, event: ChainEvent, _event_id: int) -> None:
    listing = session.get_one(ListingRecord, event.args["listingId"])
    listing.remaining = 0
    listing.status = "cancelled"


def _undo_listing_cancelled(session: Session, _event_id: int, args: dict[str, Any]) -> None:
    listing = session.get_one(ListingRecord, int(args["listingId"]))
    listing.remaining = int(args["returned"])  # what the cancel returned is what was left
    listing.status = "open"


@dataclass(frozen=True)
class Effect:
    """What an event changes beyond its row in `event`, and how to take that back."""

    apply: Callable[[Session, ChainEvent, int], None]
    undo: Callable[[Session, int, dict[str, Any]], None]
    """Given the event's row id and its stored arguments (integers as strings)."""


EFFECTS: dict[str, Effect] = {
    "Transfer": Effect(_on_transfer, _undo_transfer),
    "CreditsIssued": Effect(_on_credits_issued, _undo_credits_issued),
    "CreditsRetired": Effect(_on_credits_retired, _undo_credits_retired),
    "DeviceRegistered": Effect(_on_device_registered, _undo_device_registered),
    "DeviceStatusChanged": Effect(_on_device_changed, _undo_device_changed),
    "DeviceOwnerChanged": Effect(_on_device_changed, _undo_device_changed),
    "ListingCreated": Effect(_on_listing_created, _undo_listing_created),
    "ListingFilled": Effect(_on_listing_filled, _undo_listing_filled),
    "ListingCancelled": Effect(_on_listing_cancelled, _undo_listing_cancelled),
}
"""Events not named here (roles, pauses, methodologies, fees, rate limits, orders, withdrawals) are kept
as rows only; the state they set is read from those rows (`queries.contract_state`). The names that
matter are unique across the three contracts."""
