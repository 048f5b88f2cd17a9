from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import AddressPath, DbSession, Limit, Offset
from backend.schemas import AccountPublic, DevicePublic, Page, TransferPublic

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("/{address}")
def read_account(address: AddressPath, session: DbSession) -> AccountPublic:
    """Balance and what the address has minted, bought, sold and retired, in grams and kg."""
    return queries.account(session, address)


@router.get("/{address}/history")
def read_history(
    address: AddressPath, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[TransferPublic]:
    """Credits in and out of the address, newest first."""
    return queries.history(session, address, limit=limit, offset=offset)


@router.get("/{address}/devices")
def read_devices(address: AddressPath, session: DbSession) -> list[DevicePublic]:
    """The devices registered to this owner, with the days and grams credited to each."""
    return queries.devices_of(session, address)
