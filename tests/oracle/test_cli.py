"""`oracle`, the command, against the test chain served over real HTTP JSON-RPC (scripts/devnet.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from web3 import Web3

from contracts.client import CreditContracts, Deployment, day_label, day_number
from oracle.cli import main
from oracle.device import DeviceSigner
from oracle.report import ReportDomain
from oracle.store import Claim, MintBatch, OracleStore
from scripts.devnet import create_app
from scripts.serve import serving
from tests.conftest import Actors
from tests.oracle.conftest import daily

YESTERDAY = day_number(datetime.now(UTC).date()) - 1


@pytest.fixture
def node_url(w3: Web3) -> Iterator[str]:
    with serving(create_app(w3)) as url:
        yield url


@pytest.fixture
def store_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, contracts: CreditContracts, deployment: Deployment, node_url: str
) -> str:
    """The oracle's environment: this chain, this deployment, a fresh store; no key."""
    deployment.save(tmp_path / "deployment.json")
    url = f"sqlite:///{tmp_path / 'oracle.db'}"
    for name, value in {
        "ORACLE_RPC_URL": node_url,
        "ORACLE_DEPLOYMENT": str(tmp_path / "deployment.json"),
        "ORACLE_DATABASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("ORACLE_PRIVATE_KEY", "ORACLE_ACCOUNT", "ORACLE_CRASH_AT"):
        monkeypatch.delenv(name, raising=False)
    return url


@pytest.fixture
def report_file(tmp_path: Path, ev_device: DeviceSigner, domain: ReportDomain) -> Path:
    """Two days of the EV, a line that is not JSON, and a report altered after signing."""
    first = ev_device.sign(daily(ev_device, day=YESTERDAY - 1, sequence=1), domain)
    second = ev_device.sign(daily(ev_device, day=YESTERDAY, sequence=2, start_m=40_000), domain)
    altered = second.to_json()
    altered["report"]["distanceM"] += 1
    path = tmp_path / "reports.jsonl"
    path.write_text(
        "\n".join([json.dumps(first.to_json()), "{oops", json.dumps(second.to_json()), json.dumps(altered)])
    )
    return path


def test_ingest_decides_each_line_and_says_why_one_is_refused(
    store_url: str, report_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(report_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("line 2: not a report: not JSON")
    assert out[1].startswith("line 4: rejected, SIGNER_MISMATCH: ")
    assert out[-1] == "2 accepted, 0 repeated, 1 rejected, 1 not a report"
    assert main(["ingest", str(report_file)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 accepted, 2 repeated, 1 rejected, 1 not a report"


def test_a_dry_run_shows_the_batches_and_asks_the_token_without_a_key(
    store_url: str,
    report_file: Path,
    actors: Actors,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["ingest", str(report_file)])
    capsys.readouterr()
    assert main(["mint", "--dry-run", "--all"]) == 0
    unchecked = capsys.readouterr().out.splitlines()
    assert len(unchecked) == 2 and all("not checked (set ORACLE_ACCOUNT" in line for line in unchecked)

    monkeypatch.setenv("ORACLE_ACCOUNT", actors.oracle.address)
    assert main(["mint", "--dry-run", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(", ")[3] for line in lines] == [day_label(YESTERDAY - 1), day_label(YESTERDAY)]
    assert all(line.startswith("batch of 1 credits, 2.089 kg, methodology v2") for line in lines)
    assert all(line.endswith("the token accepts it") for line in lines)

    monkeypatch.setenv("ORACLE_ACCOUNT", actors.buyer.address)  # not the oracle: the token says so
    main(["mint", "--dry-run", "--all"])
    assert "the token refuses it: AccessControlUnauthorizedAccount" in capsys.readouterr().out

    with OracleStore(store_url).session() as session:  # nothing was written
        assert session.exec(select(MintBatch)).all() == []
        assert {claim.batch_id for claim in session.exec(select(Claim))} == {None}


def test_minting_needs_the_key_and_says_so(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint"]) == 1
    assert "ORACLE_PRIVATE_KEY" in capsys.readouterr().err


def test_mint_then_explain(
    store_url: str,
    report_file: Path,
    actors: Actors,
    ev_device: DeviceSigner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["ingest", str(report_file)])
    capsys.readouterr()
    monkeypatch.setenv("ORACLE_PRIVATE_KEY", "0x" + bytes(actors.oracle.key).hex())
    assert main(["mint", "--all"]) == 0
    minted = capsys.readouterr().out.splitlines()
    assert len(minted) == 2 and all(line.startswith("minted 2.089 kg for 1 device-days of ") for line in minted)
    assert main(["mint"]) == 0
    assert capsys.readouterr().out == "nothing was minted: no claim pends that is due (--all mints them all)\n"

    assert main(["explain", ev_device.address.lower()]) == 0
    text = capsys.readouterr().out
    assert f"{day_label(YESTERDAY)}: credited, 2.089 kg" in text
    assert "1 more report(s) named this device without its signature" in text
    assert main(["explain", ev_device.address, "--json"]) == 0
    days = json.loads(capsys.readouterr().out)["days"]
    assert [(d["date"], d["outcome"], d["grams"]) for d in days] == [
        (day_label(YESTERDAY - 1), "credited", "2089"),
        (day_label(YESTERDAY), "credited", "2089"),
    ]


def test_wrong_settings_and_arguments_are_refused_with_a_reason(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORACLE_DEPLOYMENT", str(tmp_path / "missing.json"))
    assert main(["mint", "--dry-run"]) == 1
    assert "no deployment at" in capsys.readouterr().err
    monkeypatch.setenv("ORACLE_BATCH_SIZE", "0")
    assert main(["mint", "--dry-run"]) == 2
    assert "ORACLE_BATCH_SIZE=" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "0x1234"])
    assert "must be a 0x-prefixed 20-byte hex address" in capsys.readouterr().err
    monkeypatch.delenv("ORACLE_BATCH_SIZE")
    assert main(["explain", "0x" + "12" * 20, "--to", "0001-01-05"]) == 1
    assert "leaves no room for the default 30 days" in capsys.readouterr().err
