"""A simulated fleet for the oracle's benchmarks: device keys, their signed daily reports, and a registry.

Real signatures over real EIP-712 digests; only the registry is a stand-in (`SimulatedRegistry`), because
a million devices cannot be registered on an eth-tester chain in a benchmark's time. It answers the same
questions the oracle asks CreditContracts: the report domain, a device's record, a batch's owners.
Every tenth device is a petrol car reporting a car-free day; the others are EVs that drove 5-60 km.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from eth_typing import ChecksumAddress

from contracts.client import DeviceRecord, DeviceStatus, VehicleClass, unpack_credits
from contracts.hashing import checksummed, keccak
from oracle.report import DailyReport, ReportDomain, SignedReport

DOMAIN = ReportDomain(chain_id=131277322940537, registry=checksummed(keccak(b"simulated registry")[-20:]))


def device_secret(index: int) -> bytes:
    return keccak(b"gtc benchmark device " + index.to_bytes(8, "big"))


def device_address(secret: bytes) -> ChecksumAddress:
    public = PrivateKey(secret).public_key.format(compressed=False)[1:]
    return checksummed(keccak(public)[-20:])


def vehicle_of(index: int) -> VehicleClass:
    return VehicleClass.PETROL if index % 10 == 0 else VehicleClass.BATTERY_ELECTRIC


def daily_report(index: int, address: ChecksumAddress, day: int) -> DailyReport:
    """Device `index`'s first report, for `day`: deterministic, varied and plausible."""
    if vehicle_of(index) is VehicleClass.PETROL:
        distance, moving, energy = 0, 0, 0
    else:
        distance = 5_000 + (index * 7_919) % 55_000
        moving = distance * 3_600 // (20_000 + index % 40_000)  # 20-60 km/h on average
        energy = distance * (80 + index % 120) // 1_000  # 80-200 Wh/km
    return DailyReport(
        device=address,
        day=day,
        sequence=1,
        odometer_start_m=0,
        odometer_end_m=distance,
        distance_m=distance,
        moving_s=moving,
        energy_wh=energy,
        fuel_ml=0,
        trace_hash=keccak(index.to_bytes(8, "big")),
    )


def sign(report: DailyReport, secret: bytes, domain: ReportDomain = DOMAIN) -> SignedReport:
    signature = PrivateKey(secret).sign_recoverable(domain.digest(report), hasher=None)
    return SignedReport(report, signature[:64] + bytes([signature[64] + 27]), domain.chain_id, domain.registry)


def _signed_lines(first: int, count: int, day: int) -> tuple[list[str], list[ChecksumAddress]]:
    lines: list[str] = []
    addresses: list[ChecksumAddress] = []
    for index in range(first, first + count):
        secret = device_secret(index)
        address = device_address(secret)
        addresses.append(address)
        lines.append(json.dumps(sign(daily_report(index, address, day), secret).to_json(), separators=(",", ":")))
    return lines, addresses


@dataclass(frozen=True)
class Fleet:
    """`size` devices, numbered from 0, each with one signed report for `day` in `reports`."""

    day: int
    addresses: list[ChecksumAddress]
    reports: Path

    @classmethod
    def build(cls, size: int, day: int, folder: Path, workers: int = os.cpu_count() or 1) -> Fleet:
        """Sign the fleet's reports into a JSON-lines file (kept in `folder` for the next run)."""
        folder.mkdir(parents=True, exist_ok=True)
        reports = folder / f"reports-{size}-{day}.jsonl"
        addresses_file = folder / f"addresses-{size}.json"
        if reports.exists() and addresses_file.exists():
            return cls(day, json.loads(addresses_file.read_text()), reports)
        chunk = 10_000
        addresses: list[ChecksumAddress] = []
        partial = reports.with_suffix(".partial")
        with ProcessPoolExecutor(workers) as pool, partial.open("w") as out:
            starts = range(0, size, chunk)
            for lines, chunk_addresses in pool.map(
                _signed_lines, starts, [min(chunk, size - s) for s in starts], [day] * len(starts)
            ):
                out.write("\n".join(lines) + "\n")
                addresses += chunk_addresses
        partial.rename(reports)
        addresses_file.write_text(json.dumps(addresses))
        return cls(day, addresses, reports)

    def lines(self, chunk: int) -> Iterator[list[bytes]]:
        """The report file's lines, `chunk` at a time."""
        with self.reports.open("rb") as file:
            batch: list[bytes] = []
            for line in file:
                batch.append(line)
                if len(batch) == chunk:
                    yield batch
                    batch = []
            if batch:
                yield batch


class SimulatedRegistry:
    """The registry the fleet is registered in, in memory: what CreditContracts would answer."""

    def __init__(self, addresses: list[ChecksumAddress]) -> None:
        self.addresses = addresses
        self.index = {address: i for i, address in enumerate(addresses)}

    def owner_of(self, index: int) -> ChecksumAddress:
        """Each car belongs to the driver of the next device (any address will do, and this one is ready)."""
        return self.addresses[(index + 1) % len(self.addresses)]

    def report_domain(self) -> dict[str, Any]:
        return DOMAIN.as_eip712()

    def device(self, device: str) -> DeviceRecord | None:
        index = self.index.get(device)  # type: ignore[call-overload]
        if index is None:
            return None
        return DeviceRecord(
            device=device,  # type: ignore[arg-type]
            owner=self.owner_of(index),
            index=index,
            vehicle_class=vehicle_of(index),
            status=DeviceStatus.ACTIVE,
            owner_since=0,
        )

    def credit_recipients(self, day: int, credits: bytes) -> list[ChecksumAddress]:
        return [self.owner_of(index) for index, _ in unpack_credits(credits)]

    def chain_day(self) -> int:
        """The simulated chain lives in the present: every simulated day has ended."""
        return int(time.time()) // 86_400
