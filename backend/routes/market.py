from __future__ import annotations

from fastapi import APIRouter

from backend import purchases, queries
from backend.deps import AddressQuery, Chain, Db, GramsQuery, Limit, Offset, Options, RecordId
from backend.schemas import (
    ListingPublic,
    ListingRequest,
    ListingStepPublic,
    OrderPublic,
    OrderRequest,
    Page,
    PreparedPublic,
    QuotePublic,
    SellerRequest,
)

router = APIRouter(tags=["market"])


@router.get("/v1/listings")
def read_open_listings(
    db: Db, limit: Limit = 50, offset: Offset = 0, seller: AddressQuery = None
) -> Page[ListingPublic]:
    """Listings with credits left to buy, cheapest first; prices in wei per kg."""
    with db.session() as session:
        return queries.open_listings(session, limit=limit, offset=offset, seller=seller)


@router.get("/v1/market/quote")
def read_quote(grams: GramsQuery, db: Db, options: Options, buyer: AddressQuery = None) -> QuotePublic:
    """The cheapest way to buy `grams` across the open listings (a buyer's own listings left out): which
    listings, how much of each, and the exact price in wei. `complete` is false when the listings hold
    less, or when more listings than one order may fill would be needed (`listings` is then what one
    order could take)."""
    with db.session() as session:
        offers = queries.cheapest_offers(session, grams, limit=options.max_listings_per_order, excluding=buyer)
    return purchases.quote(grams, offers[: options.max_listings_per_order])


@router.post("/v1/market/orders", responses={409: {"description": "the chain or the listings refuse the order"}})
def prepare_order(order: OrderRequest, db: Db, chain: Chain, options: Options) -> OrderPublic:
    """A ready-to-sign transaction that buys `grams` at the cheapest listings (`fillOrder`), or buys and
    retires them at once (`buyAndRetire`, with `retire`). Sign it with the buyer's own key and send it
    to the node, or to `POST /v1/transactions`. Refused with the reason when the listings hold too
    little, the price is above `maxPriceWei`, the buyer cannot pay, or a static call from the buyer
    reverts (the custom error is named)."""
    with db.session() as session:
        offers = queries.cheapest_offers(
            session, order.grams, limit=options.max_listings_per_order, excluding=order.buyer
        )
    return purchases.prepare_order(chain, order, offers, max_listings=options.max_listings_per_order)


@router.post("/v1/market/listings", responses={409: {"description": "the balance or the chain refuse the listing"}})
def prepare_listing(request: ListingRequest, chain: Chain) -> ListingStepPublic:
    """The seller's next transaction towards a listing, ready to sign: `approve` while the market may not
    take the credits into escrow (send it, wait for it, ask again), then `createListing`. Refused when
    the seller holds fewer credits, or a static call from the seller reverts (the custom error named)."""
    return purchases.prepare_listing(chain, request)


@router.post(
    "/v1/market/listings/{listing_id}/cancel",
    responses={409: {"description": "not the seller's, already closed, or unknown"}},
)
def prepare_cancellation(listing_id: RecordId, request: SellerRequest, chain: Chain) -> PreparedPublic:
    """The seller's `cancelListing` transaction, ready to sign: what is left returns from escrow."""
    return purchases.prepare_cancellation(chain, listing_id, request.seller)
