"""FastAPI dependencies and parameter types shared by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from backend.db import Database
from backend.relay import Relayer
from backend.schemas import UINT_SCHEMA, parse_uint, positive
from contracts.addresses import parse_address
from contracts.client import CreditContracts, day_number
from contracts.events import EventDecoder


class ApiError(HTTPException):
    """An error answered as {"error": {"code", "message"}}."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, detail={"code": code, "message": message})


@dataclass(frozen=True)
class ApiOptions:
    """What the API is allowed to do beyond reading the index."""

    max_listings_per_order: int = 500
    confirmations: int = 0
    """Blocks the indexer waits for on top of a block: so much lag is by design."""
    ready_max_lag_blocks: int = 10
    """Lag allowed beyond `confirmations` before /ready answers 503."""
    relayer: Relayer | None = None
    """The account that submits permit transfers; without one, the permit relay answers 503."""
    oracle_url: str = "http://127.0.0.1:8600"
    """Where the dashboard's pages ask the oracle why a day was credited or not."""


def database(request: Request) -> Database:
    return request.app.state.db


def contracts(request: Request) -> CreditContracts:
    return request.app.state.contracts


def options(request: Request) -> ApiOptions:
    return request.app.state.options


def decoder(request: Request) -> EventDecoder:
    return request.app.state.decoder


Db = Annotated[Database, Depends(database)]
"""Routes open their session with `db.session()` and close it before they return. A session handed in
by a dependency stays open until FastAPI has serialised the response, which for a sync route takes
another worker thread: under load (100 clients) every one of the 40 worker threads waited for a pooled
connection while the sessions holding them waited for a thread, until the pool's 30 s timeout."""
Chain = Annotated[CreditContracts, Depends(contracts)]
Options = Annotated[ApiOptions, Depends(options)]
Decoder = Annotated[EventDecoder, Depends(decoder)]
AddressPath = Annotated[str, Path(description="0x address; mixed case must be a valid EIP-55 checksum"),
                        AfterValidator(parse_address)]  # fmt: skip
RequiredAddressQuery = Annotated[str, Query(description="0x address; mixed case must be a valid EIP-55 checksum"),
                                 AfterValidator(parse_address)]  # fmt: skip
AddressQuery = Annotated[str | None, Query(description="0x address; mixed case must be a valid EIP-55 checksum"),
                         AfterValidator(lambda value: None if value is None else parse_address(value))]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**12)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a number counted from 1")]
"""On chain these are uint256; past 2^63 − 1 none can exist, and no database integer holds them."""
FromBlockQuery = Annotated[int | None, Query(alias="fromBlock", ge=0, le=2**63 - 1)]
ToBlockQuery = Annotated[int | None, Query(alias="toBlock", ge=0, le=2**63 - 1)]
GramsQuery = Annotated[int, Query(description="whole grams, as a string of digits"), BeforeValidator(parse_uint),
                       AfterValidator(positive), WithJsonSchema(UINT_SCHEMA)]  # fmt: skip
UintQuery = Annotated[int, Query(description="a whole number, as a string of digits"), BeforeValidator(parse_uint),
                      WithJsonSchema(UINT_SCHEMA)]  # fmt: skip
TxHashPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="a transaction hash")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="any unique string: a repeat with the same key and body gets the first answer and sends nothing",
    ),
]

MAX_RANGE_DAYS = 366


def day_range(first: date | None, last: date | None, *, default_days: int) -> tuple[int, int]:
    """A query's `from` and `to` as UTC day numbers: `default_days` to today when not given, at most
    MAX_RANGE_DAYS long, not before 1970-01-01 (the chain's day 0)."""
    last_day = day_number(last) if last is not None else day_number(datetime.now(UTC).date())
    first_day = day_number(first) if first is not None else last_day - default_days + 1
    if first_day < 0 or last_day < 0:
        raise ApiError(422, "INVALID_RANGE", "dates start at 1970-01-01, the chain's day 0")
    if last_day < first_day or last_day - first_day >= MAX_RANGE_DAYS:
        raise ApiError(422, "INVALID_RANGE", f"from must not be after to, and at most {MAX_RANGE_DAYS} days")
    return first_day, last_day


DateQuery = Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")]
FromDateQuery = Annotated[date | None, Query(alias="from", description="YYYY-MM-DD (UTC)")]
