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
from typing import TypeVar

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
T = TypeVar("T")
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

    # Interleaved rounds, each path's median: a shared machine's speed drifts between minutes.
    rounds: dict[str, list[float]] = {"oracle": [], "eth-account": [], "raw coincurve": []}
    for _ in range(ROUNDS):
        rounds["oracle"].append(_rate(oracle_path, lines))
        rounds["eth-account"].append(_rate(eth_account_path, lines[: max(1, len(lines) // 5)]))
        rounds["raw coincurve"].append(_rate(raw_recovery, recoverable))
    per_second = {name: statistics.median(rates) for name, rates in rounds.items()}
    for name, rate in per_second.items():
        echo(f"  {name}: {rate:,.0f} reports/s")
    table = Table("Report verification, one core", ["path", "reports/s", "µs per report", "vs eth-account"])
    for name, label in (
        ("oracle", "oracle: JSON + schema + EIP-712 + recovery + every check"),
        ("eth-account", "eth-account: encode_typed_data + recover_message, no checks"),
        ("raw coincurve", "libsecp256k1 recovery alone (coincurve), precomputed digests"),
    ):
        rate = per_second[name]
        table.add(label, f"{rate:,.0f}", f"{1e6 / rate:.1f}", f"{rate / per_second['eth-account']:.1f}×")
    oracle_rate, ceiling = per_second["oracle"], per_second["raw coincurve"]
    verdict = "met" if oracle_rate >= TARGET_PER_SECOND else "MISSED"
    notes = [
        f"The oracle verifies {oracle_rate:,.0f} reports a second on one core (target {TARGET_PER_SECOND:,}: "
        f"{verdict}), {oracle_rate / per_second['eth-account']:.1f} times eth-account's straightforward path and "
        f"{oracle_rate / ceiling:.0%} of what signature recovery alone allows ({ceiling:,.0f}/s). Measured over "
        f"{len(lines):,} reports of as many devices ({len(lines) // 5:,} for eth-account), the median of "
        f"{ROUNDS} interleaved rounds."
    ]
    return VerificationResult(per_second, [table], notes)


def _rate(function: Callable[[T], object], items: list[T]) -> float:
    function(items[0])  # warm up caches and lazy imports
    started = time.perf_counter()
    for item in items:
        function(item)
    return len(items) / (time.perf_counter() - started)
