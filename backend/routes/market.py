from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import Db, Limit, Offset
from backend.schemas import ListingPublic, Page

router = APIRouter(prefix="/v1/listings", tags=["market"])


@router.get("")
def read_open_listings(db: Db, limit: Limit = 50, offset: Offset = 0) -> Page[ListingPublic]:
    """Listings with credits left to buy, cheapest first; prices in wei per kg."""
    with db.session() as session:
        return queries.open_listings(session, limit=limit, offset=offset)
