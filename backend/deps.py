"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import AfterValidator
from sqlmodel import Session

from contracts.addresses import parse_address
from contracts.client import CreditContracts


class ApiError(HTTPException):
    """An error answered as {"error": {"code", "message"}}."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, detail={"code": code, "message": message})


def session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as db_session:
        yield db_session


def contracts(request: Request) -> CreditContracts:
    return request.app.state.contracts


DbSession = Annotated[Session, Depends(session)]
Chain = Annotated[CreditContracts, Depends(contracts)]
AddressPath = Annotated[str, Path(description="0x address; mixed case must be a valid EIP-55 checksum"),
                        AfterValidator(parse_address)]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**12)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a number counted from 1")]
"""On chain these are uint256; past 2^63 − 1 none can exist, and no database integer holds them."""
