"""Follow the contracts' events from the deployment block into SQL.

Each range of blocks is written in one transaction together with the cursor, so a crash leaves either
all of a range or none of it. A log already indexed (same transaction hash and log index) is skipped,
so reading a range twice changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select
from web3 import Web3

from backend.db import Database
from backend.models import (
    Account,
    BlockRecord,
    CreditedDay,
    Device,
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


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    events: int


class Indexer:
    def __init__(
        self, w3: Web3, deployment: Deployment, db: Database, *, range_blocks: int = 2_000, confirmations: int = 0
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.db = db
        self.decoder = EventDecoder(deployment)
        self.range_blocks = range_blocks
        self.confirmations = confirmations

    def sync(self) -> SyncResult:
        """Index every block from the cursor up to the chain head minus the confirmations."""
        first = self._cursor() + 1
        head = self.w3.eth.block_number - self.confirmations
        applied = 0
        start = first
        while start <= head:
            end = min(start + self.range_blocks - 1, head)
            applied += self._index_range(start, end)
            start = end + 1
        return SyncResult(first, max(head, first - 1), applied)

    def _cursor(self) -> int:
        with self.db.session() as session:
            state = session.get(IndexerState, 1)
            if state is None:
                return self.deployment.block - 1
            if state.chain_id != self.deployment.chain_id or state.token != self.deployment.token:
                raise RuntimeError(
                    f"this database indexes token {state.token} on chain {state.chain_id}, "
                    f"not {self.deployment.token} on {self.deployment.chain_id}: use another database"
                )
            return state.last_block

    def _index_range(self, start: int, end: int) -> int:
        events = self.decoder.fetch(self.w3, start, end)
        with self.db.session() as session:
            known = _known_logs(session, events)
            fresh = [event for event in events if (event.tx_hash, event.log_index) not in known]
            for number in sorted({event.block_number for event in fresh}):
                self._record_block(session, number)
            for event in fresh:
                record = EventRecord(
                    block_number=event.block_number,
                    tx_hash=event.tx_hash,
                    log_index=event.log_index,
                    contract=event.contract,
                    name=event.name,
                    args=json.dumps({key: _json_value(value) for key, value in event.args.items()}),
                )
                session.add(record)
                session.flush()
                assert record.id is not None
                handler = HANDLERS.get(event.name)
                if handler is not None:
                    handler(session, event, record.id)
            state = session.get(IndexerState, 1) or IndexerState(
                chain_id=self.deployment.chain_id, token=self.deployment.token, last_block=end
            )
            state.last_block = end
            session.add(state)
            session.commit()
        if fresh:
            log.info("indexed %s events in blocks %s..%s", len(fresh), start, end)
        return len(fresh)

    def _record_block(self, session: Session, number: int) -> None:
        if session.get(BlockRecord, number) is None:
            block = self.w3.eth.get_block(number)
            session.add(
                BlockRecord(
                    number=number,
                    hash=block["hash"].to_0x_hex(),
                    timestamp=datetime.fromtimestamp(block["timestamp"], UTC),
                )
            )


def _json_value(value: Any) -> Any:
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
    rows = session.exec(
        select(EventRecord.tx_hash, EventRecord.log_index).where(EventRecord.tx_hash.in_(hashes))  # type: ignore[attr-defined]
    )
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


def _on_credits_issued(session: Session, event: ChainEvent, _event_id: int) -> None:
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
                device=devices[index],
                day=args["day"],
                owner=mint.recipient,
                grams=grams,
                batch_id=args["batchId"],
                tx_hash=event.tx_hash,
            )
        )
    session.add(
        MintBatchRecord(
            batch_id=args["batchId"],
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


def _on_credits_retired(session: Session, event: ChainEvent, _event_id: int) -> None:
    args = event.args
    block = session.get_one(BlockRecord, event.block_number)
    session.add(
        RetirementRecord(
            retirement_id=args["retirementId"],
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


def _on_device_registered(session: Session, event: ChainEvent, _event_id: int) -> None:
    args = event.args
    session.add(
        Device(
            address=args["device"],
            owner=args["owner"],
            index=args["index"],
            vehicle_class=args["vehicleClass"],
            status=1,
            registered_block=event.block_number,
        )
    )


def _on_device_status_changed(session: Session, event: ChainEvent, _event_id: int) -> None:
    session.get_one(Device, event.args["device"]).status = event.args["status"]


def _on_device_owner_changed(session: Session, event: ChainEvent, _event_id: int) -> None:
    device = session.get_one(Device, event.args["device"])
    device.owner = event.args["newOwner"]
    device.owner_since = event.args["fromDay"]


def _on_listing_created(session: Session, event: ChainEvent, _event_id: int) -> None:
    args = event.args
    session.add(
        ListingRecord(
            listing_id=args["listingId"],
            seller=args["seller"],
            amount=args["amount"],
            remaining=args["amount"],
            price_per_kg=args["pricePerKg"],
            status="open",
            tx_hash=event.tx_hash,
        )
    )


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


def _on_listing_cancelled(session: Session, event: ChainEvent, _event_id: int) -> None:
    listing = session.get_one(ListingRecord, event.args["listingId"])
    listing.remaining = 0
    listing.status = "cancelled"


HANDLERS: dict[str, Callable[[Session, ChainEvent, int], Any]] = {
    "Transfer": _on_transfer,
    "CreditsIssued": _on_credits_issued,
    "CreditsRetired": _on_credits_retired,
    "DeviceRegistered": _on_device_registered,
    "DeviceStatusChanged": _on_device_status_changed,
    "DeviceOwnerChanged": _on_device_owner_changed,
    "ListingCreated": _on_listing_created,
    "ListingFilled": _on_listing_filled,
    "ListingCancelled": _on_listing_cancelled,
}
"""What each event changes beyond its row in `event`; events not named here (roles, methodologies,
pauses, fees, orders, withdrawals) are kept as rows only. The names that matter are unique across the
three contracts."""
