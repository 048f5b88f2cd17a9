"""Fixtures: one eth-tester chain per session with the contracts deployed once, and a snapshot reverted
after every test that touches it, so tests stay independent and fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from web3 import Web3

from contracts.chain import TESTER, Sender, connect, fund_from_node
from contracts.client import CreditContracts, Deployment, VehicleClass, day_date, deploy
from oracle import methodology as methodologies
from oracle.device import DeviceSigner
from oracle.methodology import DailyFigures
from oracle.report import ReportDomain

ETHER = 10**18


def key(label: str) -> bytes:
    return keccak(text=f"green-travel-credits test key: {label}")


SenderFor = Callable[[str], Sender]
"""The `sender` fixture: an actor's name → a Sender signing with that actor's key."""


@dataclass(frozen=True)
class Actors:
    admin: LocalAccount
    oracle: LocalAccount
    registrar: LocalAccount
    driver: LocalAccount
    other_driver: LocalAccount
    buyer: LocalAccount
    stranger: LocalAccount


@pytest.fixture(scope="session")
def w3() -> Web3:
    return connect(TESTER)


@pytest.fixture(scope="session")
def actors(w3: Web3) -> Actors:
    people = Actors(*(Account.from_key(key(name)) for name in Actors.__dataclass_fields__))
    for person in people.__dict__.values():
        fund_from_node(w3, person.address, 1_000 * ETHER)
    return people


@pytest.fixture(scope="session")
def methodology() -> DailyFigures:
    """Version 1, the exchange's daily figures: what most oracle tests assess with."""
    method = methodologies.load(1)
    assert isinstance(method, DailyFigures)
    return method


@pytest.fixture(scope="session")
def deployment(w3: Web3, actors: Actors) -> Deployment:
    return deploy(
        Sender(w3, actors.admin),
        oracle=actors.oracle.address,
        registrar=actors.registrar.address,
        methodologies=[method.registration() for method in methodologies.load_all()],
    )


@pytest.fixture
def contracts(w3: Web3, deployment: Deployment) -> Iterator[CreditContracts]:
    """The deployed contracts; whatever the test changes on chain is undone after it."""
    snapshot = w3.testing.snapshot()
    yield CreditContracts(w3, deployment)
    w3.testing.revert(snapshot)


@pytest.fixture
def sender(w3: Web3, actors: Actors) -> SenderFor:
    """sender("driver") → a Sender for that actor."""
    return lambda name: Sender(w3, getattr(actors, name))


@pytest.fixture
def domain(contracts: CreditContracts) -> ReportDomain:
    return ReportDomain.from_eip712(contracts.report_domain())


REGISTER_GAS = 150_000
"""Enough for registerDevice; giving it skips eth-tester's slow gas estimate."""


def register(
    contracts: CreditContracts, actors: Actors, label: str, owner: LocalAccount | str, vehicle: VehicleClass
) -> DeviceSigner:
    """A new device, registered by the registrar to `owner` (an account or any address)."""
    device = DeviceSigner(key(f"device {label}"))
    owner_address = owner if isinstance(owner, str) else owner.address
    Sender(contracts.w3, actors.registrar).transact(
        contracts.registry.functions.registerDevice(device.address, owner_address, vehicle), gas=REGISTER_GAS
    )
    return device


@pytest.fixture
def ev_device(contracts: CreditContracts, actors: Actors) -> DeviceSigner:
    """A battery-electric car's device, owned by `driver`."""
    return register(contracts, actors, "ev", actors.driver, VehicleClass.BATTERY_ELECTRIC)


@pytest.fixture
def petrol_device(contracts: CreditContracts, actors: Actors) -> DeviceSigner:
    """A petrol car's device, owned by `other_driver`."""
    return register(contracts, actors, "petrol", actors.other_driver, VehicleClass.PETROL)


TODAY = 20_000
"""The tests' "today" as a UTC day number (2024-10-04)."""


def clock_at(day: int, hour: int = 6) -> Callable[[], datetime]:
    moment = datetime.combine(day_date(day), time(hour), UTC)
    return lambda: moment


POSTGRES_URL = os.environ.get("GTC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
"""A server on which the tests may create and drop scratch databases (this machine's, trust auth)."""


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; skipped, with the reason, where no server answers."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"gtc_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); set GTC_TEST_POSTGRES_URL")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
