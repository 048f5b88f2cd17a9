"""The oracle killed with SIGKILL at every step of ingesting and minting, and at random moments: after
restarts, every claim is minted exactly once and none is lost.

Real processes throughout: a devnet (`gtc devnet`) serves the chain over HTTP, and the `oracle` command
runs again and again against it and one SQLite store. ORACLE_CRASH_AT makes a run kill itself at a named
step (oracle/faults.py); the random kills come from outside, as a power cut would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from sqlmodel import select
from web3 import Web3

from contracts.chain import Sender, connect
from contracts.client import CreditContracts, Deployment, VehicleClass, unpack_credits
from oracle.device import DeviceSigner
from oracle.report import ReportDomain
from oracle.store import BatchStatus, Claim, ClaimStatus, MintBatch, OracleStore, ReportRecord, ReportStatus
from tests.conftest import key
from tests.oracle.conftest import daily

pytestmark = pytest.mark.processes

LEASE_SECONDS = 1
DAYS = 3
EVS, PETROL_CARS = 4, 2


@dataclass(frozen=True)
class Devnet:
    url: str
    state_dir: Path
    accounts: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    state_dir = tmp_path_factory.mktemp("devnet")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (state_dir / "devnet.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "devnet", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not (state_dir / "accounts.json").exists() or not Web3(Web3.HTTPProvider(url)).is_connected():
            assert process.poll() is None, (state_dir / "devnet.log").read_text()
            assert time.monotonic() < deadline, "the devnet did not start within a minute"
            time.sleep(0.2)
        yield Devnet(url, state_dir, json.loads((state_dir / "accounts.json").read_text()))
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def oracle_command(devnet: Devnet, store_url: str, *args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = os.environ | {
        "ORACLE_RPC_URL": devnet.url,
        "ORACLE_DEPLOYMENT": str(devnet.state_dir / "deployment.json"),
        "ORACLE_DATABASE_URL": store_url,
        "ORACLE_PRIVATE_KEY": devnet.accounts["oracle"]["privateKey"],
        "ORACLE_BATCH_SIZE": "2",
        "ORACLE_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    env.pop("ORACLE_CRASH_AT", None)
    if crash_at is not None:
        env["ORACLE_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "oracle.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def test_killed_at_any_step_the_oracle_mints_every_claim_exactly_once(devnet: Devnet, tmp_path: Path) -> None:
    w3 = connect(devnet.url)
    contracts = CreditContracts(w3, Deployment.load(devnet.state_dir / "deployment.json"))
    domain = ReportDomain.from_eip712(contracts.report_domain())
    registrar = Sender(w3, Account.from_key(devnet.accounts["registrar"]["privateKey"]))
    today = int(w3.eth.get_block("latest")["timestamp"]) // 86_400
    owners = [Account.from_key(key(f"crash test owner {i}")).address for i in range(EVS + PETROL_CARS)]

    lines = []
    for i, owner in enumerate(owners):
        device = DeviceSigner(key(f"crash test device {i}"))
        vehicle = VehicleClass.BATTERY_ELECTRIC if i < EVS else VehicleClass.PETROL
        registrar.transact(contracts.registry.functions.registerDevice(device.address, owner, vehicle))
        for n, day in enumerate(range(today - DAYS, today), start=1):
            if vehicle is VehicleClass.BATTERY_ELECTRIC:
                report = daily(device, day=day, sequence=n, start_m=(n - 1) * 40_000)
            else:
                report = daily(device, day=day, sequence=n, start_m=10_000, distance_m=0, energy_wh=0)
            lines.append(json.dumps(device.sign(report, domain).to_json()))
    reports = tmp_path / "reports.jsonl"
    reports.write_text("\n".join(lines) + "\n")
    store_url = f"sqlite:///{tmp_path / 'oracle.db'}"
    expected_claims = len(lines)  # every day of these cars earns credits

    # Ingest: killed after its second transaction, then run again over the whole file.
    code, output = finish(
        oracle_command(devnet, store_url, "ingest", "--chunk", "4", str(reports), crash_at="report-accepted:2")
    )
    assert code == -signal.SIGKILL, output
    code, output = finish(oracle_command(devnet, store_url, "ingest", "--chunk", "4", str(reports)))
    assert code == 0, output
    assert output.strip().endswith(f"{expected_claims - 8} accepted, 8 repeated, 0 rejected, 0 not a report")

    # Mint: killed at each step in turn; each restart finishes what the last left and goes on.
    for point in ("batch-prepared", "batch-signed", "batch-broadcast", "batch-confirmed"):
        code, output = finish(oracle_command(devnet, store_url, "mint", "--all", crash_at=point))
        assert code == -signal.SIGKILL, f"{point}: {output}"
        time.sleep(LEASE_SECONDS + 0.2)  # the dead minter's lease runs out
    # ... and at random moments.
    chance = random.Random(20261203)
    for _ in range(3):
        process = oracle_command(devnet, store_url, "mint", "--all")
        time.sleep(chance.uniform(0.5, 2.5))
        process.send_signal(signal.SIGKILL)
        finish(process)
        time.sleep(LEASE_SECONDS + 0.2)
    code, output = finish(oracle_command(devnet, store_url, "mint", "--all"))
    assert code == 0, output

    store = OracleStore(store_url)
    with store.session() as session:
        claims = list(session.exec(select(Claim)))
        accepted = session.exec(select(ReportRecord).where(ReportRecord.status == ReportStatus.ACCEPTED)).all()
        batches = {batch.id: batch for batch in session.exec(select(MintBatch))}
    assert len(accepted) == len(claims) == expected_claims  # nothing lost, nothing stored twice
    assert {claim.status for claim in claims} == {ClaimStatus.MINTED}
    assert all(batches[claim.batch_id].status is BatchStatus.CONFIRMED for claim in claims if claim.batch_id)
    # The batch prepared before the first kill was abandoned on restart, its claims minted in another.
    abandoned = [b for b in batches.values() if b.error == "abandoned before its transaction was signed"]
    assert abandoned and all(b.status is BatchStatus.FAILED and b.tx_hash is None for b in abandoned)

    # The chain: each claim's (device, day) credited once, with its grams, to its owner.
    credited: Counter[tuple[int, int]] = Counter()
    grams_on_chain = 0
    event = contracts.token.events.CreditsIssued()
    for log in w3.eth.get_logs({"address": contracts.token.address, "fromBlock": 0, "topics": [event.topic]}):
        args = event.process_log(log)["args"]
        for index, grams in unpack_credits(bytes(args["credits"])):
            credited[(index, args["day"])] += 1
            grams_on_chain += grams
    assert set(credited.values()) == {1}
    assert set(credited) == {(claim.device_index, claim.day) for claim in claims}
    assert grams_on_chain == sum(claim.grams for claim in claims) == contracts.supply().issued
    for owner in owners:
        assert contracts.balance_of(owner) == sum(c.grams for c in claims if c.owner == owner)
