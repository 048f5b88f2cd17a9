from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from backend import certificates, queries
from backend.deps import AddressQuery, ApiError, Chain, Db, Limit, Offset, RecordId
from backend.schemas import CertificatePublic, Page, RetirementPublic

router = APIRouter(prefix="/v1/retirements", tags=["retirements"])


@router.get("")
def read_retirements(
    db: Db, limit: Limit = 50, offset: Offset = 0, account: AddressQuery = None
) -> Page[RetirementPublic]:
    """Every retirement (or an account's), newest first."""
    with db.session() as session:
        return queries.retirements(session, limit=limit, offset=offset, account=account)


@router.get("/{retirement_id}")
def read_retirement(retirement_id: RecordId, db: Db, chain: Chain) -> CertificatePublic:
    """One retirement: beneficiary, purpose, amount, date and transaction, the accounts and mint batches
    (with their methodologies and evidence roots) its credits came from, and how to check it on chain
    (`CreditToken.retirement(id)`)."""
    with db.session() as session:
        found = queries.certificate(session, retirement_id, chain.deployment)
    if found is None:
        raise ApiError(404, "RETIREMENT_NOT_FOUND", f"no retirement number {retirement_id}")
    return found


@router.get("/{retirement_id}/certificate", response_class=HTMLResponse)
def read_certificate_page(retirement_id: RecordId, db: Db, chain: Chain) -> HTMLResponse:
    """The retirement as a printable HTML certificate."""
    return HTMLResponse(certificates.page(read_retirement(retirement_id, db, chain)))
