from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from backend import queries
from backend.deps import (
    AddressPath,
    DateQuery,
    Db,
    FromBlockQuery,
    FromDateQuery,
    Limit,
    Offset,
    ToBlockQuery,
    day_range,
)
from backend.schemas import AccountPublic, CreditedDayPublic, DevicePublic, Page, TransferPublic

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

Kind = Annotated[Literal["mint", "transfer", "burn"] | None, Query(description="only mints, transfers or burns")]


@router.get("/{address}")
def read_account(address: AddressPath, db: Db) -> AccountPublic:
    """Balance and what the address has minted, bought, sold and retired, in grams and kg."""
    with db.session() as session:
        return queries.account(session, address)


@router.get("/{address}/history")
def read_history(
    address: AddressPath,
    db: Db,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: Kind = None,
    from_block: FromBlockQuery = None,
    to_block: ToBlockQuery = None,
) -> Page[TransferPublic]:
    """Credits in and out of the address, newest first; filtered by kind and block range."""
    with db.session() as session:
        return queries.history(
            session, address, limit=limit, offset=offset, kind=kind, from_block=from_block, to_block=to_block
        )


@router.get("/{address}/devices")
def read_devices(address: AddressPath, db: Db) -> list[DevicePublic]:
    """The devices registered to this owner, with the days and grams credited to each."""
    with db.session() as session:
        return queries.devices_of(session, address)


@router.get("/{address}/days")
def read_credited_days(
    address: AddressPath, db: Db, from_: FromDateQuery = None, to: DateQuery = None
) -> list[CreditedDayPublic]:
    """Each device-day credited to this owner (for a chart of grams per day), oldest first: the last
    366 days to today by default."""
    first_day, last_day = day_range(from_, to, default_days=366)
    with db.session() as session:
        return queries.credited_days_of(session, address, from_day=first_day, to_day=last_day)
