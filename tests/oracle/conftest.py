from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.client import CreditContracts
from oracle.device import DeviceSigner
from oracle.methodology import DailyFigures
from oracle.report import DailyReport
from oracle.service import Oracle
from oracle.store import OracleStore
from tests.conftest import TODAY, clock_at, postgres_database


@pytest.fixture
def store(tmp_path: Path) -> OracleStore:
    return OracleStore(f"sqlite:///{tmp_path / 'oracle.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OracleStore]:
    """The oracle's store on SQLite and, where a server is reachable, on PostgreSQL."""
    if request.param == "sqlite":
        yield OracleStore(f"sqlite:///{tmp_path / 'oracle.db'}")
        return
    for url in postgres_database():
        store = OracleStore(url)
        yield store
        store.engine.dispose()


@pytest.fixture
def oracle(contracts: CreditContracts, store: OracleStore, methodology: DailyFigures) -> Oracle:
    """An oracle whose clock reads 06:00 UTC on TODAY."""
    return Oracle(store, contracts, [methodology], clock=clock_at(TODAY))


def daily(
    device: DeviceSigner, day: int = TODAY - 1, sequence: int = 1, start_m: int = 0, **fields: int
) -> DailyReport:
    """A plausible EV driving day: 40 km in an hour on 4 kWh, unless fields say otherwise."""
    distance = fields.pop("distance_m", 40_000)
    moving = 3_600 if distance else 0
    values = {"energy_wh": 4_000, "fuel_ml": 0, "moving_s": moving, "odometer_end_m": start_m + distance} | fields
    return DailyReport(
        device=device.address,
        day=day,
        sequence=sequence,
        odometer_start_m=start_m,
        distance_m=distance,
        trace_hash=bytes(32),
        **values,  # type: ignore[arg-type]
    )
