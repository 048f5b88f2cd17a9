from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import ApiError, Db, Limit, Offset, RecordId
from backend.schemas import Page, RetirementPublic

router = APIRouter(prefix="/v1/retirements", tags=["retirements"])


@router.get("")
def read_retirements(db: Db, limit: Limit = 50, offset: Offset = 0) -> Page[RetirementPublic]:
    """Every retirement, newest first."""
    with db.session() as session:
        return queries.retirements(session, limit=limit, offset=offset)


@router.get("/{retirement_id}")
def read_retirement(retirement_id: RecordId, db: Db) -> RetirementPublic:
    """One retirement record: anyone can check it with CreditToken.retirement(id) on chain."""
    with db.session() as session:
        found = queries.retirement(session, retirement_id)
    if found is None:
        raise ApiError(404, "RETIREMENT_NOT_FOUND", f"no retirement number {retirement_id}")
    return found
