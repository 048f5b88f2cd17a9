from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import AddressPath, ApiError, Db
from backend.schemas import DeviceDetail

router = APIRouter(prefix="/v1/devices", tags=["devices"])


@router.get("/{address}")
def read_device(address: AddressPath, db: Db) -> DeviceDetail:
    """A registered device, its owner and status, and every day it was credited for."""
    with db.session() as session:
        found = queries.device(session, address)
    if found is None:
        raise ApiError(404, "DEVICE_NOT_FOUND", f"no device {address} is registered")
    return found
