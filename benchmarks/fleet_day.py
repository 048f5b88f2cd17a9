"""A simulated day for N drivers through the whole system on eth-tester: each driver's device signs its
report, the oracle verifies, decides and stores them, mints the credits in batches, and the backend
indexes the chain. Wall time and peak memory per stage, the indexer against eth-tester's own
`eth_getLogs` rate in the same run, and a projection for a million drivers.

Unlike the oracle's simulated day (benchmarks/simulated_day.py) nothing is a stand-in: the N devices are
registered on the chain (a setup, not timed, kept in var/bench as a devnet journal for the next run), the
oracle reads the registry over web3, and every credit is a real transaction's event.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from eth_account import Account
from web3 import Web3
from web3.types import LogReceipt

from backend.db import Database
from backend.indexer import Indexer
from benchmarks.fleet import daily_report as fleet_report
from benchmarks.fleet import device_address, device_secret, vehicle_of
from benchmarks.fleet import sign as fleet_sign
from benchmarks.report import Table
from contracts.chain import TESTER, Sender, connect, fund_from_node
from contracts.client import CreditContracts, Deployment, RateLimit, deploy, format_kg
from contracts.events import ChainEvent, EventDecoder
from oracle import methodology
from oracle.batching import BatchPolicy
from oracle.minter import Minter
from oracle.report import ReportDomain
from oracle.service import Oracle
from oracle.store import OracleStore, ReportStatus
from scripts.chainstate import persist
from scripts.devnet import dev_account

T = TypeVar("T")
DEFAULT_DRIVERS = 10_000
BATCH = 500
REGISTER_GAS = 200_000
ONE_MILLION = 1_000_000
OWNER_OFFSET = 10**9
"""Driver i's wallet is the address of key number OWNER_OFFSET + i: a distinct new holder each."""


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    peak_mib: float = 0.0
    items: int = 0
    unit: str = ""


@dataclass
class FleetDayResult:
    drivers: int
    stages: list[Stage]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PeakMemory:
    """The process's resident memory, sampled every 20 ms from /proc: the peak of each stage."""

    def __init__(self) -> None:
        self._peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def current(self) -> int:
        return self._rss()

    def _rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, self._rss())

    @contextmanager
    def stage(self, stage: Stage) -> Iterator[Stage]:
        self._peak = self._rss()
        started = time.perf_counter()
        yield stage
        stage.seconds = time.perf_counter() - started
        stage.peak_mib = max(self._peak, self._rss()) / 2**20

    def close(self) -> None:
        self._stop.set()


def run(folder: Path, drivers: int = DEFAULT_DRIVERS, echo: Callable[[str], None] = print) -> FleetDayResult:
    folder.mkdir(parents=True, exist_ok=True)
    w3, deployment = _registered_chain(folder, drivers, echo)
    contracts = CreditContracts(w3, deployment)
    day = contracts.chain_day() - 1
    memory = PeakMemory()
    start_mib = memory.current() / 2**20
    stages = [
        Stage("sign: each device signs its day (EIP-712, libsecp256k1)", unit="reports"),
        Stage("verify + decide + store (registry read over web3 per device)", unit="reports"),
        Stage(f"mint: batches of {BATCH} credits, each a transaction", unit="credits"),
        Stage("index: events into SQLite (the backend's indexer)", unit="events"),
        Stage("baseline: eth-tester's own eth_getLogs over the same blocks", unit="events"),
        Stage("index again from those logs: the indexer's own work (decode, SQL)", unit="events"),
    ]
    domain = ReportDomain.from_eip712(contracts.report_domain())
    for leftover in folder.glob("fleet-oracle.db*"):
        leftover.unlink()

    echo(f"the day of {drivers:,} drivers: signing ...")
    with memory.stage(stages[0]) as stage:
        secrets = [device_secret(index) for index in range(drivers)]
        signed = [
            fleet_sign(fleet_report(index, device_address(secret), day), secret, domain)
            for index, secret in enumerate(secrets)
        ]
        stage.items = len(signed)

    echo("verifying and deciding ...")
    store = OracleStore(f"sqlite:///{folder / 'fleet-oracle.db'}")
    oracle = Oracle(store, contracts, [methodology.load(2), methodology.load(1)])
    with memory.stage(stages[1]) as stage:
        decisions = [decision for chunk in _chunks(signed, 1_000) for decision in oracle.ingest_many(chunk)]
        stage.items = len(decisions)
    accepted = sum(decision.status is ReportStatus.ACCEPTED for decision in decisions)

    echo("minting ...")
    oracle_account = dev_account("oracle")
    first_block = w3.eth.block_number + 1
    with memory.stage(stages[2]) as stage:
        minted = Minter(store, contracts, Sender(w3, oracle_account), BatchPolicy(size=BATCH)).run()
        stage.items = sum(result.claims for result in minted)
    gas = sum(result.gas_used for result in minted)
    grams = sum(result.grams for result in minted)

    echo("indexing ...")
    indexer = Indexer(w3, deployment, _fresh_database(folder / "fleet-backend.db"))
    with memory.stage(stages[3]) as stage:
        stage.items = indexer.sync().events
    last_block = w3.eth.block_number
    with memory.stage(stages[4]) as stage:
        logs = w3.eth.get_logs(
            {"fromBlock": deployment.block, "toBlock": last_block, "address": EventDecoder(deployment).addresses}
        )
        stage.items = len(logs)
    prefetched = Indexer(w3, deployment, _fresh_database(folder / "fleet-backend-again.db"))
    prefetched.decoder = PrefetchedDecoder(deployment, logs)
    with memory.stage(stages[5]) as stage:
        stage.items = prefetched.sync().events
    memory.close()

    table = Table(
        f"A day of {drivers:,} drivers through the whole system", ["stage", "seconds", "per second", "peak MiB"]
    )
    for stage in stages:
        rate = f"{stage.items / stage.seconds:,.0f} {stage.unit}" if stage.seconds else "-"
        table.add(stage.name, f"{stage.seconds:.1f}", rate, f"{stage.peak_mib:,.0f}")
    indexed, baseline, own = stages[3], stages[4], stages[5]
    ratio = (indexed.items / indexed.seconds) / (baseline.items / baseline.seconds)
    own_ratio = (own.items / own.seconds) / (baseline.items / baseline.seconds)
    result = FleetDayResult(drivers, stages, [table])
    result.notes.append(
        f"Memory is the benchmark process's resident set, sampled every 20 ms; it held {start_mib:,.0f} MiB "
        f"(the chain with its {drivers:,} registered devices, and what earlier benchmarks of the run left) "
        f"when the day began. "
        f"{accepted:,} of {drivers:,} reports accepted; {stages[2].items:,} credits worth {format_kg(grams)} kg minted "
        f"in {len(minted)} transactions ({first_block}..{last_block}), {gas // max(1, stages[2].items):,} gas per "
        f"credit to a new holder. The indexer wrote {indexed.items:,} events (the setup's registrations included) "
        f"at {ratio:.0%} of the rate at which eth-tester alone hands out their logs; given the logs already "
        f"fetched, its own work (decoding, a header per block, one flush per event into SQLite) runs at "
        f"{own_ratio:.1f} times that rate: "
        + ("the indexer, not the node, is the slower part." if own_ratio < 1 else "the node is the bottleneck.")
    )
    result.notes.append(_projection(stages, gas / max(1, stages[2].items)))
    return result


def _projection(stages: list[Stage], gas_per_credit: float) -> str:
    """What a million drivers need, from this run's rates."""
    sign, decide, mint, _index, _logs, own = stages
    reports_per_second_needed = ONE_MILLION / 3_600  # if every car reports within the same hour
    decide_rate = decide.items / decide.seconds
    transactions = -(-ONE_MILLION // BATCH)
    index_rate = own.items / own.seconds
    events = ONE_MILLION + transactions  # a Transfer per credit, a CreditsIssued per batch
    return (
        f"Projection for 1,000,000 drivers: each device signs once a day ({sign.seconds / sign.items * 1e6:,.0f} µs "
        f"of this CPU); reports arrive at about {ONE_MILLION // 86_400:,}/s over a day, "
        f"{reports_per_second_needed:,.0f}/s if they all come in the same hour; this run verified and decided "
        f"{decide_rate:,.0f}/s in one process with a registry read per report over web3 (the oracle's own "
        f"simulated day, without the node, is the section above). Minting takes {transactions:,} transactions "
        f"of {BATCH} credits a day, about {gas_per_credit * ONE_MILLION / 1e9:,.1f} billion gas on the first day "
        f"(every holder new; returning holders cost about a third of it, see Gas), which is "
        f"{gas_per_credit * ONE_MILLION / 30e6:,.0f} blocks of 30 M gas on a chain of its own or a small share "
        f"of an L2's daily capacity; eth-tester took {mint.seconds / max(1, mint.items) * ONE_MILLION / 3_600:,.1f} h "
        f"of CPU at this run's rate, a real node executes the same EVM code natively. Indexing "
        f"{events:,} events at the indexer's own {index_rate:,.0f}/s into SQLite takes "
        f"{events / index_rate / 60:,.0f} minutes, given a node that serves logs faster than eth-tester; "
        f"in production the indexer reads an L2 node's logs into "
        f"PostgreSQL (the same code, a URL), and the oracle's store is PostgreSQL with devices sharded across "
        f"deciding processes, since one SQLite writer is the ceiling here."
    )


def _registered_chain(folder: Path, drivers: int, echo: Callable[[str], None]) -> tuple[Web3, Deployment]:
    """An in-process chain with the contracts deployed and `drivers` devices registered, restored from
    var/bench when a previous run saved it (registering is setup, not the day)."""
    saved, saved_deployment = folder / f"fleet-chain-{drivers}.journal", folder / f"fleet-chain-{drivers}.json"
    working = folder / "fleet-chain.journal"
    w3 = connect(TESTER)
    if saved.exists() and saved_deployment.exists():
        shutil.copyfile(saved, working)
        persist(w3, working)
        fund_from_node(w3, dev_account("oracle").address, 1)  # a block of today: the chain's clock moves on
        return w3, Deployment.load(saved_deployment)
    echo(f"registering {drivers:,} devices on the chain (once: kept in {folder} for the next run) ...")
    admin, oracle, registrar = (dev_account(role) for role in ("admin", "oracle", "registrar"))
    for account in (admin, oracle, registrar):
        fund_from_node(w3, account.address, 10**22)
    deployment = deploy(
        Sender(w3, admin),
        oracle=oracle.address,
        registrar=registrar.address,
        methodologies=[method.registration() for method in methodology.load_all()],
        rate_limit=RateLimit(max_grams_per_period=10**15),
    )
    registry = CreditContracts(w3, deployment).registry
    nonce, fee = w3.eth.get_transaction_count(registrar.address), w3.eth.gas_price * 2
    started = time.perf_counter()
    for index in range(drivers):
        device = device_address(device_secret(index))
        owner = device_address(device_secret(OWNER_OFFSET + index))
        data = registry.encode_abi("registerDevice", args=[device, owner, vehicle_of(index)])
        transaction = {
            "to": deployment.registry, "data": data, "gas": REGISTER_GAS, "nonce": nonce + index,
            "maxFeePerGas": fee, "maxPriorityFeePerGas": 1, "chainId": deployment.chain_id,
        }  # fmt: skip
        w3.eth.send_raw_transaction(Account.sign_transaction(transaction, registrar.key).raw_transaction)
        if index and index % 2_000 == 0:
            echo(f"  {index:,} registered, {index / (time.perf_counter() - started):,.0f}/s")
    db, _restored = persist(w3, saved)
    db.close()
    deployment.save(saved_deployment)
    shutil.copyfile(saved, working)
    persist(w3, working)
    return w3, deployment


class PrefetchedDecoder(EventDecoder):
    """Serves the indexer logs fetched beforehand: what it does with them, without the node's cost."""

    def __init__(self, deployment: Deployment, logs: Sequence[LogReceipt]) -> None:
        super().__init__(deployment)
        self.logs = logs

    def fetch(self, w3: Web3, from_block: int, to_block: int) -> list[ChainEvent]:
        chosen = [log for log in self.logs if from_block <= log["blockNumber"] <= to_block]
        return [event for log in chosen if (event := self.decode(log)) is not None]


def _fresh_database(path: Path) -> Database:
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    db = Database(f"sqlite:///{path}")
    db.migrate()
    return db


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
