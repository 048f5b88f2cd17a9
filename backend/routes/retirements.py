from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import ApiError, DbSession, Limit, Offset, RecordId
from backend.schemas import Page, RetirementPublic

router = APIRouter(prefix="/v1/retirements", tags=["retirements"])


@router.get("")
def read_retirements(session: DbSession, limit: Limit = 50, offset: Offset = 0) -> Page[RetirementPublic]:
    """Every retirement, newest first."""
    return queries.retirements(session, limit=limit, offset=offset)


@router.get("/{retirement_id}")
def read_retirement(retirement_id: RecordId, session: DbSession) -> RetirementPublic:
    """One retirement record: anyone can check it with CreditToken.retirement(id) on chain."""
    found = queries.retirement(session, retirement_id)
    if found is None:
        raise ApiError(404, "RETIREMENT_NOT_FOUND", f"no retirement number {retirement_id}")
    return found
