"""schemathesis against the backend's own OpenAPI schema, over real HTTP, on an index of a real chain:
whatever it sends to whichever endpoint, the answer is never a server error."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from web3 import Web3

from backend.api import create_app
from backend.db import Database
from backend.deps import ApiOptions
from backend.indexer import Indexer
from backend.relay import Relayer
from contracts.chain import Sender
from contracts.client import CreditContracts, Deployment, VehicleClass
from scripts.serve import serving
from tests.conftest import Actors, register
from tests.helpers import issue


@pytest.fixture(scope="module")
def served_schema(
    w3: Web3, deployment: Deployment, actors: Actors, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    snapshot = w3.testing.snapshot()
    contracts = CreditContracts(w3, deployment)
    device = register(contracts, actors, "fuzzed", actors.driver, VehicleClass.BATTERY_ELECTRIC)
    oracle, driver = Sender(w3, actors.oracle), Sender(w3, actors.driver)
    issue(contracts, oracle, 19_000, (device.address, 1750))
    driver.transact(contracts.token.functions.approve(deployment.market, 1000))
    driver.transact(contracts.market.functions.createListing(1000, 3 * 10**14))
    driver.transact(contracts.token.functions.retire(100, "Fuzz Ltd", "", 0, 0))
    db = Database(f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'backend.db'}")
    db.migrate()
    Indexer(w3, deployment, db).sync()
    options = ApiOptions(relayer=Relayer(Sender(w3, actors.stranger)), ready_max_lag_blocks=10**6)
    with serving(create_app(db, contracts, options)) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")
    w3.testing.revert(snapshot)


EXAMPLES = 30
"""Per operation and per kind of input (valid by the schema, and invalid). Derandomized, so that a run
is repeatable; `--hypothesis-seed` does not change it, a different EXAMPLES does."""


def test_no_request_makes_the_api_fail(served_schema: schemathesis.BaseSchema) -> None:
    """Every operation of the schema, with inputs the schema allows and inputs it does not. (schemathesis'
    own pytest plugin does not run on pytest 9, so each operation's strategy is driven by hypothesis.)"""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def exercise(case: schemathesis.Case) -> None:
            response = case.call()
            statuses[response.status_code] += 1
            case.validate_response(response, checks=[not_a_server_error])

        try:
            exercise()
        except Unsatisfiable:  # no input breaks this operation's schema (a free-form path segment, say)
            continue
        except Exception as exc:  # collected so that one failing operation does not hide the others
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert failures == []
    assert statuses[200] > 100 and statuses[422] > 100, statuses  # both kinds of input reached the routes
