"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator

from backend.db import Database
from contracts.addresses import parse_address
from contracts.client import CreditContracts


class ApiError(HTTPException):
    """An error answered as {"error": {"code", "message"}}."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, detail={"code": code, "message": message})


def database(request: Request) -> Database:
    return request.app.state.db


def contracts(request: Request) -> CreditContracts:
    return request.app.state.contracts


Db = Annotated[Database, Depends(database)]
"""Routes open their session with `db.session()` and close it before they return. A session handed in
by a dependency stays open until FastAPI has serialised the response, which for a sync route takes
another worker thread: under load (100 clients) every one of the 40 worker threads waited for a pooled
connection while the sessions holding them waited for a thread, until the pool's 30 s timeout."""
Chain = Annotated[CreditContracts, Depends(contracts)]
AddressPath = Annotated[str, Path(description="0x address; mixed case must be a valid EIP-55 checksum"),
                        AfterValidator(parse_address)]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**12)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a number counted from 1")]
"""On chain these are uint256; past 2^63 − 1 none can exist, and no database integer holds them."""
