from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import Chain, Db
from backend.schemas import Amount, HealthPublic, StatsPublic

router = APIRouter(tags=["stats"])


@router.get("/v1/stats")
def read_stats(db: Db) -> StatsPublic:
    """Totals: kg minted, retired and circulating; drivers, devices, credited days, listings, retirements."""
    with db.session() as session:
        return queries.stats(session)


@router.get("/health")
def read_health(db: Db, chain: Chain) -> HealthPublic:
    """How far the index is behind the chain, and whether its supply agrees with the token's."""
    head = chain.w3.eth.block_number
    with db.session() as session:
        indexed = queries.indexed_block(session)
        totals = queries.stats(session)
        indexed_supply = queries.indexed_supply(session)
    if indexed is None:
        indexed = chain.deployment.block - 1
    # Compare with the chain as it was at the last indexed block, so a lagging index is still checkable.
    on_chain = chain.supply(block=max(indexed, chain.deployment.block))
    return HealthPublic(
        chain_head=head,
        indexed_block=indexed,
        lag_blocks=max(head - indexed, 0),
        supply_indexed=Amount.of(indexed_supply),
        supply_on_chain=Amount.of(on_chain.circulating),
        supply_matches=(
            indexed_supply == on_chain.circulating
            and int(totals.minted.grams) == on_chain.issued
            and int(totals.retired.grams) == on_chain.retired
        ),
    )
