"""Idempotency keys for requests that send transactions: the first request with a key is carried out, a
repeat (a client retrying after a lost answer) gets the same answer and sends nothing, the same key with
another body is refused. Concurrent requests with one key: one is carried out, the others wait for its
answer a while, then are told to retry."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import keccak
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.db import Database
from backend.errors import Invalid, Refused
from backend.models import IdempotentRequest

WAIT_SECONDS = 10.0
"""How long a repeat waits for the first request with its key to finish."""
ABANDONED_AFTER = timedelta(minutes=5)
"""A key taken this long ago with no answer was taken by a server that stopped mid-request; a repeat
carries the request out. Safe: what it sends is guarded on chain by the signer's nonce (a raw
transaction, a permit), so a request that did reach the chain is refused the second time."""

Answer = tuple[int, dict[str, Any]]


def answer_once(db: Database, key: str | None, endpoint: str, body: str, run: Callable[[], Answer]) -> Answer:
    """`run()`'s answer (status, JSON body); with a `key`, run at most once per key. A refusal is an
    answer like any other and is kept; a failure of the server (5xx, an exception) is not, so a retry
    runs again."""
    if key is None:
        return _answer(run)
    request_hash = "0x" + keccak(text=f"{endpoint}\n{body}").hex()
    while not _claim(db, key, endpoint, request_hash):
        earlier = _earlier_answer(db, key, endpoint, request_hash)
        if earlier is not None:
            return earlier
        # The first request failed and its key was released meanwhile: this one may carry it out.
    try:
        status, content = _answer(run)
    except BaseException:
        _forget(db, key)
        raise
    if status >= 500:
        _forget(db, key)
        return status, content
    with db.session() as session:
        row = session.get_one(IdempotentRequest, key)
        row.status_code, row.response = status, json.dumps(content)
        session.commit()
    return status, content


def _answer(run: Callable[[], Answer]) -> Answer:
    try:
        return run()
    except Refused as refused:
        return refused.status, {"error": refused.body()}


def _claim(db: Database, key: str, endpoint: str, request_hash: str) -> bool:
    """Record the key as taken by this request; False if another request holds it."""
    with db.session() as session:
        session.add(IdempotentRequest(key=key, endpoint=endpoint, request_hash=request_hash, created_at=_now()))
        try:
            session.commit()
        except IntegrityError:
            return False
    return True


def _earlier_answer(db: Database, key: str, endpoint: str, request_hash: str) -> Answer | None:
    """The answer given to the first request with `key`, once there is one; None if it failed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with db.session() as session:
            row = session.get(IdempotentRequest, key)
        if row is None:
            return None
        if row.endpoint != endpoint or row.request_hash != request_hash:
            raise Invalid(
                "IDEMPOTENCY_KEY_REUSED",
                f"Idempotency-Key {key!r} was used for a different request: use a new key for a new request",
            )
        if row.status_code is not None and row.response is not None:
            return row.status_code, json.loads(row.response)
        if _now() - row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC) > ABANDONED_AFTER:
            _release_abandoned(db, row)
            return None
        if time.monotonic() > deadline:
            raise Refused(
                "REQUEST_IN_PROGRESS", f"the request with Idempotency-Key {key!r} is still being carried out: ask again"
            )
        time.sleep(0.05)


def _forget(db: Database, key: str) -> None:
    with db.session() as session:
        row = session.get(IdempotentRequest, key)
        if row is not None:
            session.delete(row)
            session.commit()


def _release_abandoned(db: Database, row: IdempotentRequest) -> None:
    """Free an abandoned key, unless another repeat freed and took it meanwhile."""
    with db.session() as session:
        session.execute(
            delete(IdempotentRequest).where(
                col(IdempotentRequest.key) == row.key,
                col(IdempotentRequest.created_at) == row.created_at,
                col(IdempotentRequest.status_code).is_(None),
            )
        )
        session.commit()


def _now() -> datetime:
    return datetime.now(UTC)
