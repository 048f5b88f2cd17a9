"""Report verification on one core: the oracle's path against eth-account's and raw libsecp256k1.

The oracle's path is everything a report goes through before the database: JSON decoding and schema
validation, the EIP-712 digest, signature recovery with OpenZeppelin's rules, the registry record (from
memory here), the day, plausibility and the methodology (`Verifier.check`). The straightforward path is
eth-account's `encode_typed_data` and `Account.recover_message` after `json.loads`, with no checks at
all; raw coincurve recovery of precomputed digests is the ceiling.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import encode_typed_data

from benchmarks.fleet import DOMAIN, Fleet, SimulatedRegistry
from benchmarks.report import Table
from contracts.client import day_date
from oracle import methodology
from oracle.report import REPORT_FIELDS
from oracle.schemas import parse_report_line
from oracle.validation import Limits
from oracle.verifier import Verifier

TARGET_PER_SECOND = 10_000
ROUNDS = 3
SLICE = 1_000
"""Oracle reports a turn (about 0.1 s); the other paths take the same share of their items."""
DAY = 20_400  # 2025-11-07: a fixed day keeps the fleet's file reusable between runs


@dataclass
class VerificationResult:
    per_second: dict[str, float]
    tables: list[Table]
    notes: list[str]


def run(folder: Path, reports: int = 20_000, echo: Callable[[str], None] = print) -> VerificationResult:
    echo(f"signing {reports:,} reports (kept in {folder} for the next run) ...")
    fleet = Fleet.build(reports, DAY, folder)
    lines = [line for chunk in fleet.lines(10_000) for line in chunk]
    registry = SimulatedRegistry(fleet.addresses)
    verifier = Verifier(DOMAIN, methodology.load_all(), Limits())
    now = datetime.combine(day_date(DAY + 1), datetime.min.time(), UTC) + timedelta(hours=6)

    def oracle_path(line: bytes) -> object:
        checked = verifier.check(parse_report_line(line), registry.device, now)
        assert checked.judgement is not None, checked
        return checked

    types = {"DailyReport": [{"name": name, "type": kind} for name, kind in REPORT_FIELDS]}

    def eth_account_path(line: bytes) -> object:
        data = json.loads(line)
        message = encode_typed_data(DOMAIN.as_eip712(), types, data["report"])
        return Account.recover_message(message, signature=bytes.fromhex(data["signature"][2:]))

    digests = [verifier.domain.digest(parse_report_line(line).report) for line in lines]
    signatures = [bytes.fromhex(json.loads(line)["signature"][2:]) for line in lines]
    recoverable = [(d, s[:64] + bytes([s[64] - 27])) for d, s in zip(digests, signatures, strict=True)]

    def raw_recovery(item: tuple[bytes, bytes]) -> object:
        return PublicKey.from_signature_and_message(item[1], item[0], hasher=None)

    # A shared machine's speed drifts from second to second: the paths take turns a slice at a time, so
    # each sees the same moments of it; each path's rate is its median over the rounds.
    paths: dict[str, tuple[Callable[[Any], object], list[Any]]] = {
        "oracle": (oracle_path, lines),
        "eth-account": (eth_account_path, lines[: max(1, len(lines) // 5)]),
        "raw coincurve": (raw_recovery, recoverable),
    }
    slices = max(1, len(lines) // SLICE)
    rounds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, rate in _interleaved_rates(paths, slices).items():
            rounds[name].append(rate)
    per_second = {name: statistics.median(rates) for name, rates in rounds.items()}
    for name, rate in per_second.items():
        echo(f"  {name}: {rate:,.0f} reports/s")
    columns = ["path", "reports/s", "µs per report", "vs eth-account", "vs raw recovery"]
    table = Table("Report verification, one core", columns)
    for name, label in (
        ("oracle", "oracle: JSON + schema + EIP-712 + recovery + every check"),
        ("eth-account", "eth-account: encode_typed_data + recover_message, no checks"),
        ("raw coincurve", "libsecp256k1 recovery alone (coincurve), precomputed digests"),
    ):
        rate = per_second[name]
        versus = (rate / per_second["eth-account"], rate / per_second["raw coincurve"])
        table.add(label, f"{rate:,.0f}", f"{1e6 / rate:.1f}", f"{versus[0]:.1f}×", f"{versus[1]:.2f}×")
    oracle_rate, ceiling = per_second["oracle"], per_second["raw coincurve"]
    verdict = "met" if oracle_rate >= TARGET_PER_SECOND else "MISSED"
    notes = [
        f"The oracle verifies {oracle_rate:,.0f} reports a second on one core (target {TARGET_PER_SECOND:,}: "
        f"{verdict}), {oracle_rate / per_second['eth-account']:.1f} times eth-account's straightforward path and "
        f"{oracle_rate / ceiling:.0%} of what signature recovery alone allows ({ceiling:,.0f}/s). Measured over "
        f"{len(lines):,} reports of as many devices ({len(lines) // 5:,} for eth-account), the paths taking "
        f"turns {slices} times a round, the median of {ROUNDS} rounds."
    ]
    return VerificationResult(per_second, [table], notes)


def _interleaved_rates(paths: dict[str, tuple[Callable[[Any], object], list[Any]]], slices: int) -> dict[str, float]:
    """Items per second of each path over all its items, timed in `slices` turns: a slice of every path,
    then the next slice of every path."""
    for function, items in paths.values():
        function(items[0])  # warm up caches and lazy imports
    elapsed = dict.fromkeys(paths, 0.0)
    for turn in range(slices):
        for name, (function, items) in paths.items():
            part = items[turn * len(items) // slices : (turn + 1) * len(items) // slices]
            started = time.perf_counter()
            for item in part:
                function(item)
            elapsed[name] += time.perf_counter() - started
    return {name: len(items) / elapsed[name] for name, (_, items) in paths.items()}
