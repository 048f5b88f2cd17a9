from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend import queries
from backend.db import Database
from backend.deps import Chain, DateQuery, Db, FromDateQuery, Options, day_range
from backend.schemas import Amount, ContractsPublic, DailyStatPublic, HealthPublic, StatsPublic
from contracts.client import CreditContracts

router = APIRouter(tags=["stats"])


@router.get("/v1/stats")
def read_stats(db: Db) -> StatsPublic:
    """Totals: kg minted, retired and circulating; drivers, devices, credited days, listings, retirements."""
    with db.session() as session:
        return queries.stats(session)


@router.get("/v1/stats/daily")
def read_daily_stats(db: Db, from_: FromDateQuery = None, to: DateQuery = None) -> list[DailyStatPublic]:
    """One entry per UTC day (30 days to today by default, at most 366): kg credited for the day, kg
    retired and traded that day, drivers credited, and the average price."""
    first_day, last_day = day_range(from_, to, default_days=30)
    with db.session() as session:
        return queries.daily_stats(session, first_day, last_day)


@router.get("/v1/contracts")
def read_contracts(db: Db, chain: Chain) -> ContractsPublic:
    """The deployment: addresses, pauses, role holders, the market's fee and the methodologies, as the
    indexed events set them."""
    with db.session() as session:
        return queries.contract_state(session, chain.deployment)


@router.get("/health")
def read_health(db: Db, chain: Chain) -> HealthPublic:
    """How far the index is behind the chain, and whether its supply agrees with the token's."""
    return health(db, chain)


@router.get("/ready", responses={503: {"model": HealthPublic, "description": "lagging, or the supply disagrees"}})
def read_ready(db: Db, chain: Chain, options: Options) -> JSONResponse:
    """200 when the index lags the chain by at most BACKEND_CONFIRMATIONS + BACKEND_READY_MAX_LAG_BLOCKS
    and its supply agrees with the token's; 503 otherwise (for a load balancer), with the same figures as
    /health."""
    figures = health(db, chain)
    allowed_lag = options.confirmations + options.ready_max_lag_blocks
    ready = figures.supply_matches and figures.lag_blocks <= allowed_lag
    return JSONResponse(figures.model_dump(mode="json"), status_code=200 if ready else 503)


def health(db: Database, chain: CreditContracts) -> HealthPublic:
    head = chain.w3.eth.block_number
    with db.session() as session:
        indexed = queries.indexed_block(session)
        totals = queries.stats(session)
        indexed_supply = queries.indexed_supply(session)
    if indexed is None:
        indexed = chain.deployment.block - 1
    # Compare with the chain as it was at the last indexed block, so a lagging index is still checkable.
    on_chain = chain.supply(block=max(min(indexed, head), chain.deployment.block))
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
