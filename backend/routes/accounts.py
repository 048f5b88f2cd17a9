from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import AddressPath, Db, Limit, Offset
from backend.schemas import AccountPublic, DevicePublic, Page, TransferPublic

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("/{address}")
def read_account(address: AddressPath, db: Db) -> AccountPublic:
    """Balance and what the address has minted, bought, sold and retired, in grams and kg."""
    with db.session() as session:
        return queries.account(session, address)


@router.get("/{address}/history")
def read_history(address: AddressPath, db: Db, limit: Limit = 50, offset: Offset = 0) -> Page[TransferPublic]:
    """Credits in and out of the address, newest first."""
    with db.session() as session:
        return queries.history(session, address, limit=limit, offset=offset)


@router.get("/{address}/devices")
def read_devices(address: AddressPath, db: Db) -> list[DevicePublic]:
    """The devices registered to this owner, with the days and grams credited to each."""
    with db.session() as session:
        return queries.devices_of(session, address)
