from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from backend import queries
from backend.deps import AddressPath, AddressQuery, ApiError, Db, Limit, Offset
from backend.schemas import DeviceDetail, DevicePublic, Page

router = APIRouter(prefix="/v1/devices", tags=["devices"])

Status = Annotated[Literal["active", "suspended"] | None, Query()]


@router.get("")
def read_devices(
    db: Db, owner: AddressQuery = None, status: Status = None, limit: Limit = 50, offset: Offset = 0
) -> Page[DevicePublic]:
    """Registered devices in registration order, by owner or status."""
    with db.session() as session:
        return queries.devices(session, owner=owner, status=status, limit=limit, offset=offset)


@router.get("/{address}")
def read_device(address: AddressPath, db: Db) -> DeviceDetail:
    """A registered device, its owner and status, and every day it was credited for."""
    with db.session() as session:
        found = queries.device(session, address)
    if found is None:
        raise ApiError(404, "DEVICE_NOT_FOUND", f"no device {address} is registered")
    return found
