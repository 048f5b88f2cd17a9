"""Reads on the index, returning API models. No HTTP here: routes turn `None` into a 404."""

from __future__ import annotations

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.indexer import ZERO_ADDRESS
from backend.models import (
    Account,
    CreditedDay,
    Device,
    IndexerState,
    ListingRecord,
    RetirementRecord,
    Totals,
    TransferRecord,
)
from backend.schemas import (
    AccountPublic,
    Amount,
    CreditedDayPublic,
    DeviceDetail,
    DevicePublic,
    ListingPublic,
    Page,
    RetirementPublic,
    StatsPublic,
    TransferPublic,
)
from contracts.client import DeviceStatus, VehicleClass, day_label


def account(session: Session, address: str) -> AccountPublic:
    """An address's totals; an address the chain never saw has zeros everywhere."""
    row = session.get(Account, address) or Account(address=address)
    return AccountPublic(
        address=address,
        balance=Amount.of(row.balance),
        minted=Amount.of(row.minted),
        bought=Amount.of(row.bought),
        sold=Amount.of(row.sold),
        retired=Amount.of(row.retired),
    )


def history(session: Session, address: str, *, limit: int, offset: int) -> Page[TransferPublic]:
    """Credits in and out of an address, newest first."""
    involved = or_(col(TransferRecord.sender) == address, col(TransferRecord.recipient) == address)
    count = session.exec(select(func.count()).select_from(TransferRecord).where(involved)).one()
    rows = session.exec(
        select(TransferRecord)
        .where(involved)
        .order_by(col(TransferRecord.block_number).desc(), col(TransferRecord.log_index).desc())
        .offset(offset)
        .limit(limit)
    )
    return Page(data=[_transfer(row) for row in rows], count=count)


def devices_of(session: Session, owner: str) -> list[DevicePublic]:
    devices = session.exec(select(Device).where(Device.owner == owner).order_by(col(Device.index)))
    return [_device(session, device) for device in devices]


def device(session: Session, address: str) -> DeviceDetail | None:
    row = session.get(Device, address)
    if row is None:
        return None
    days = _credited_days(session, address)
    summary = _device(session, row, days)
    return DeviceDetail(
        **summary.model_dump(),
        days=[
            CreditedDayPublic(
                day=day.day,
                date=day_label(day.day),
                grams=Amount.of(day.grams),
                batch_id=day.batch_id,
                tx_hash=day.tx_hash,
            )
            for day in days
        ],
    )


def open_listings(session: Session, *, limit: int, offset: int) -> Page[ListingPublic]:
    """Listings with credits left, cheapest first."""
    is_open = ListingRecord.status == "open"
    count = session.exec(select(func.count()).select_from(ListingRecord).where(is_open)).one()
    rows = session.exec(
        select(ListingRecord)
        .where(is_open)
        .order_by(col(ListingRecord.price_per_kg), col(ListingRecord.listing_id))
        .offset(offset)
        .limit(limit)
    )
    return Page(data=[_listing(row) for row in rows], count=count)


def retirements(session: Session, *, limit: int, offset: int) -> Page[RetirementPublic]:
    count = session.exec(select(func.count()).select_from(RetirementRecord)).one()
    rows = session.exec(
        select(RetirementRecord).order_by(col(RetirementRecord.retirement_id).desc()).offset(offset).limit(limit)
    )
    return Page(data=[_retirement(row) for row in rows], count=count)


def retirement(session: Session, retirement_id: int) -> RetirementPublic | None:
    row = session.get(RetirementRecord, retirement_id)
    return None if row is None else _retirement(row)


def stats(session: Session) -> StatsPublic:
    totals = session.get(Totals, 1) or Totals()

    def count(*where: object) -> int:
        return session.exec(select(func.count()).select_from(*where)).one()  # type: ignore[arg-type]

    return StatsPublic(
        minted=Amount.of(totals.issued),
        retired=Amount.of(totals.retired),
        circulating=Amount.of(totals.issued - totals.retired),
        drivers=session.exec(select(func.count(func.distinct(Device.owner)))).one(),
        devices=count(Device),
        credited_days=count(CreditedDay),
        open_listings=session.exec(
            select(func.count()).select_from(ListingRecord).where(ListingRecord.status == "open")
        ).one(),
        retirements=count(RetirementRecord),
    )


def indexed_block(session: Session) -> int | None:
    state = session.get(IndexerState, 1)
    return None if state is None else state.last_block


def indexed_supply(session: Session) -> int:
    """The sum of all indexed balances. Summed here, not in SQL: SQLite stores uint256 as text."""
    return sum(balance for balance in session.exec(select(Account.balance)))


# -------------------------------------------------------------------------------------- helpers


def _credited_days(session: Session, device: str) -> list[CreditedDay]:
    return list(session.exec(select(CreditedDay).where(CreditedDay.device == device).order_by(col(CreditedDay.day))))


def _device(session: Session, row: Device, days: list[CreditedDay] | None = None) -> DevicePublic:
    days = _credited_days(session, row.address) if days is None else days
    return DevicePublic(
        address=row.address,
        owner=row.owner,
        owner_since=row.owner_since,
        vehicle_class=VehicleClass(row.vehicle_class).name.lower(),
        status=DeviceStatus(row.status).name.lower(),
        credited_days=len(days),
        credited=Amount.of(sum(day.grams for day in days)),
    )


def _transfer(row: TransferRecord) -> TransferPublic:
    kind = "mint" if row.sender == ZERO_ADDRESS else "burn" if row.recipient == ZERO_ADDRESS else "transfer"
    return TransferPublic(
        kind=kind,
        sender=row.sender,
        recipient=row.recipient,
        amount=Amount.of(row.amount),
        block_number=row.block_number,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
    )


def _listing(row: ListingRecord) -> ListingPublic:
    return ListingPublic(
        listing_id=row.listing_id,
        seller=row.seller,
        amount=Amount.of(row.amount),
        remaining=Amount.of(row.remaining),
        price_per_kg_wei=str(row.price_per_kg),
        status=row.status,
    )


def _retirement(row: RetirementRecord) -> RetirementPublic:
    return RetirementPublic(
        retirement_id=row.retirement_id,
        account=row.account,
        amount=Amount.of(row.amount),
        beneficiary=row.beneficiary,
        purpose=row.purpose,
        period_start=day_label(row.period_start) if row.period_end else None,
        period_end=day_label(row.period_end) if row.period_end else None,
        retired_at=row.retired_at,
        block_number=row.block_number,
        tx_hash=row.tx_hash,
    )
