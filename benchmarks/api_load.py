"""The backend's balance read under load: requests a second and p50/p99 latency at 1, 10 and 100
concurrent clients, against a bare FastAPI endpoint served the same way in the same run.

Each server is its own process (uvicorn, one worker, as `backend serve` runs); the load generator is
this process, over loopback HTTP with keep-alive connections (httpx). The backend answers from the
index of the fleet's day (benchmarks/fleet_day.py), one account of its holders after another.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlmodel import select

from backend.db import Database
from backend.models import Account
from benchmarks.report import Table

CONCURRENCY = (1, 10, 100)
REQUESTS = 3_000
"""Requests per measurement, after a warm-up of a tenth as many."""


@dataclass(frozen=True)
class Load:
    concurrency: int
    per_second: float
    p50_ms: float
    p99_ms: float


@dataclass
class ApiResult:
    loads: dict[str, list[Load]]
    tables: list[Table]
    notes: list[str]


def run(database: Path, deployment: Path, echo: Callable[[str], None] = print) -> ApiResult:
    db = Database(f"sqlite:///{database}")
    with db.session() as session:
        addresses = list(session.exec(select(Account.address).where(Account.balance > 0).limit(10_000)))
    if not addresses:
        raise RuntimeError(f"{database} holds no accounts: run the fleet benchmark first")
    paths = {
        "backend: GET /v1/accounts/{address}": [f"/v1/accounts/{address}" for address in addresses],
        "bare FastAPI: a constant JSON object": ["/bare"],
    }
    loads: dict[str, list[Load]] = {}
    for (name, targets), app in zip(paths.items(), ("backend", "bare"), strict=True):
        with _server(app, database, deployment) as url:
            loads[name] = []
            for concurrency in CONCURRENCY:
                asyncio.run(_measure(url, targets, concurrency, REQUESTS // 10))  # warm-up
                load = asyncio.run(_measure(url, targets, concurrency, REQUESTS))
                echo(f"  {name}, {concurrency} clients: {load.per_second:,.0f}/s, p99 {load.p99_ms:.1f} ms")
                loads[name].append(load)

    table = Table("The balance read under load (loopback HTTP, one uvicorn worker)",
                  ["endpoint", "clients", "requests/s", "p50 ms", "p99 ms", "vs bare"])  # fmt: skip
    backend, bare = loads.values()
    for name, measured in loads.items():
        for load, baseline in zip(measured, bare, strict=True):
            table.add(name, load.concurrency, f"{load.per_second:,.0f}", f"{load.p50_ms:.1f}", f"{load.p99_ms:.1f}",
                      f"{load.per_second / baseline.per_second:.0%}")  # fmt: skip
    best = max(backend, key=lambda load: load.per_second)
    notes = [
        f"The backend answers a balance read at up to {best.per_second:,.0f} requests a second ({best.concurrency} "
        f"clients), {best.per_second / max(b.per_second for b in bare):.0%} of what the same server does with no "
        f"work at all; {len(addresses):,} accounts read in turn from SQLite. The load generator shares the "
        f"machine's two cores with the server, so both figures are lower bounds."
    ]
    return ApiResult(loads, [table], notes)


async def _measure(url: str, targets: list[str], concurrency: int, requests: int) -> Load:
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for number in counter:
                started = time.perf_counter()
                response = await client.get(targets[number % len(targets)])
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.request.url}: HTTP {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return Load(concurrency, len(latencies) / seconds, quantiles[49] * 1000, quantiles[98] * 1000)


@contextmanager
def _server(app: str, database: Path, deployment: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "benchmarks.api_server", app, str(port), str(database), str(deployment)]
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/bare" if app == "bare" else url + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {app} server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
