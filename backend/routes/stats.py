from __future__ import annotations

from fastapi import APIRouter

from backend import queries
from backend.deps import Chain, DbSession
from backend.schemas import Amount, HealthPublic, StatsPublic

router = APIRouter(tags=["stats"])


@router.get("/v1/stats")
def read_stats(session: DbSession) -> StatsPublic:
    """Totals: kg minted, retired and circulating; drivers, devices, credited days, listings, retirements."""
    return queries.stats(session)


@router.get("/health")
def read_health(session: DbSession, chain: Chain) -> HealthPublic:
    """How far the index is behind the chain, and whether its supply agrees with the token's."""
    head = chain.w3.eth.block_number
    indexed = queries.indexed_block(session)
    if indexed is None:
        indexed = chain.deployment.block - 1
    # Compare with the chain as it was at the last indexed block, so a lagging index is still checkable.
    on_chain = chain.supply(block=max(indexed, chain.deployment.block))
    totals = queries.stats(session)
    indexed_supply = queries.indexed_supply(session)
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
