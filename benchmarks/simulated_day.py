"""A simulated day of the oracle at scale: one report from each of a million devices, verified, decided
and stored, then planned into mint batches; everything but the chain.

Verification runs in one process per core (`Verifier.check` is pure), in chunks, while the main process
decides each verified chunk in one transaction of the real store (SQLite in a file, as by default) and
finally plans the batches (`BatchPlanner.dry_run`: owners, packed credits, Merkle roots). The registry
is the fleet's in-memory stand-in (benchmarks/fleet.py). Timed from the first line read to the last
batch planned; the fleet's signing beforehand is not timed.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coincurve import PublicKey

from benchmarks.fleet import DOMAIN, Fleet, SimulatedRegistry
from benchmarks.report import Table
from contracts.client import day_date, format_kg
from oracle import methodology
from oracle.batching import BatchPlanner, BatchPolicy, PlannedBatch
from oracle.schemas import parse_report_line
from oracle.service import Oracle
from oracle.store import OracleStore, ReportStatus
from oracle.tuning import tune_garbage_collector
from oracle.validation import Limits
from oracle.verifier import Checked, Verifier

DAY = 20_400
CHUNK = 5_000
TARGET_SECONDS = 120
NOW = datetime.combine(day_date(DAY + 1), datetime.min.time(), UTC) + timedelta(hours=6)

_verifier: Verifier | None = None
_registry: SimulatedRegistry | None = None


@dataclass
class DayResult:
    seconds: float
    tables: list[Table]
    notes: list[str]


def _start_worker() -> None:
    tune_garbage_collector()


def _verify(lines: list[bytes]) -> list[Checked]:
    """In a worker: the chunk's reports through every check that needs no database."""
    assert _verifier is not None and _registry is not None
    return [_verifier.check(parse_report_line(line), _registry.device, NOW) for line in lines]


def _verified(pool: ProcessPoolExecutor, chunks: Iterator[list[bytes]], ahead: int) -> Iterator[list[Checked]]:
    """Chunks verified by the pool, in order, with at most `ahead` in flight (memory stays bounded)."""
    pending: deque[Future[list[Checked]]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(_verify, chunk))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def run(folder: Path, reports: int = 1_000_000, echo: Callable[[str], None] = print) -> DayResult:
    global _verifier, _registry
    workers = os.cpu_count() or 1
    echo(f"signing {reports:,} reports of as many devices (kept in {folder} for the next run) ...")
    fleet = Fleet.build(reports, DAY, folder)
    _registry = SimulatedRegistry(fleet.addresses)
    methodologies = [methodology.load(2), methodology.load(1)]
    _verifier = Verifier(DOMAIN, methodologies, Limits())
    database = folder / "simulated-day.db"
    for leftover in folder.glob("simulated-day.db*"):
        leftover.unlink()
    store = OracleStore(f"sqlite:///{database}")
    oracle = Oracle(store, _registry, methodologies, clock=lambda: NOW)

    echo(f"verifying in {workers} processes and deciding in chunks of {CHUNK:,} ...")
    started = time.perf_counter()
    accepted = decided = 0
    context = multiprocessing.get_context("fork")  # workers inherit the registry instead of unpickling it
    tune_garbage_collector()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        for checked in _verified(pool, fleet.lines(CHUNK), ahead=2 * workers):
            decisions = oracle.decide(checked)
            decided += len(decisions)
            accepted += sum(d.status is ReportStatus.ACCEPTED for d in decisions)
    verified_at = time.perf_counter()
    batches = claims = grams = 0
    for item in BatchPlanner(store, _registry, BatchPolicy(size=500)).dry_run():
        assert isinstance(item, PlannedBatch)
        item.tree.root  # noqa: B018  # the evidence root, computed as the minter would
        batches += 1
        claims += len(item.claims)
        grams += item.grams
    finished = time.perf_counter()
    seconds = finished - started

    floor = reports / (_recoveries_per_second(fleet) * workers)

    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    database_mib = sum(f.stat().st_size for f in folder.glob("simulated-day.db*")) / 2**20
    table = Table(f"A simulated day: {reports:,} device reports", ["phase", "seconds", "reports/s"])
    table.add(f"verify ({workers} processes) + decide and store", f"{verified_at - started:.1f}",
              f"{decided / (verified_at - started):,.0f}")  # fmt: skip
    table.add(f"plan {batches:,} mint batches of ≤ 500 (owners, credits, Merkle roots)",
              f"{finished - verified_at:.1f}", f"{claims / (finished - verified_at):,.0f}")  # fmt: skip
    table.add("total", f"{seconds:.1f}", f"{decided / seconds:,.0f}")
    table.add(f"baseline: signature recovery alone on {workers} cores, from a rate measured in this run",
              f"{floor:.1f}", f"{reports / floor:,.0f}")  # fmt: skip
    verdict = "met" if seconds <= TARGET_SECONDS else "MISSED"
    notes = [
        f"{decided:,} reports decided ({accepted:,} accepted), {claims:,} claims worth {format_kg(grams)} kg "
        f"planned into {batches:,} batches in {seconds:.0f} s (target {TARGET_SECONDS} s: {verdict}), "
        f"{seconds / floor:.1f} times what recovering the signatures alone would take on these cores. Peak "
        f"memory: {own_kib / 1024:,.0f} MiB in the deciding process, {worker_kib / 1024:,.0f} MiB in the "
        f"largest verifying process; the store took {database_mib:,.0f} MiB on disk."
    ]
    return DayResult(seconds, [table], notes)


def _recoveries_per_second(fleet: Fleet, sample: int = 20_000) -> float:
    """libsecp256k1 recoveries a second on one core, over the fleet's first signatures (digests computed
    beforehand, not timed)."""
    signed = [parse_report_line(line) for line in next(fleet.lines(sample))]
    items = [(DOMAIN.digest(s.report), s.signature[:64] + bytes([s.signature[64] - 27])) for s in signed]
    started = time.perf_counter()
    for digest, signature in items:
        PublicKey.from_signature_and_message(signature, digest, hasher=None)
    return len(items) / (time.perf_counter() - started)
