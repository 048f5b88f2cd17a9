"""`backend index`, against a devnet over real HTTP JSON-RPC (eth_getLogs and blocks as a node serves them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account

from backend.cli import main
from contracts.chain import Sender
from contracts.client import CreditContracts, VehicleClass
from scripts.devnet import Devnet, create_app, start
from scripts.serve import serving


@pytest.fixture
def devnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Devnet]:
    node = start(tmp_path / "devnet")
    with serving(create_app(node.w3, node.journal.flush)) as url:
        monkeypatch.setenv("BACKEND_RPC_URL", url)
        monkeypatch.setenv("BACKEND_DEPLOYMENT", str(tmp_path / "devnet" / "deployment.json"))
        monkeypatch.setenv("BACKEND_DATABASE_URL", f"sqlite:///{tmp_path / 'backend.db'}")
        yield node
    node.journal.close()


def test_index_catches_up_once_and_then_finds_nothing_new(devnet: Devnet, capsys: pytest.CaptureFixture[str]) -> None:
    registry = CreditContracts(devnet.w3, devnet.deployment).registry
    device = Account.create().address
    Sender(devnet.w3, devnet.accounts["registrar"]).transact(
        registry.functions.registerDevice(device, devnet.accounts["driver"].address, VehicleClass.PETROL)
    )
    assert main(["index"]) == 0
    first = capsys.readouterr().out
    head = devnet.w3.eth.block_number
    assert first.startswith(f"indexed blocks {devnet.deployment.block}..{head}: ")
    assert int(first.split(": ")[1].split()[0]) > 0
    assert main(["index"]) == 0
    assert capsys.readouterr().out == f"indexed blocks {head + 1}..{head}: 0 events\n"


def test_a_database_of_another_deployment_is_refused(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index"]) == 0
    other = replace(devnet.deployment, token=devnet.deployment.market)
    other.save(tmp_path / "other.json")
    monkeypatch.setenv("BACKEND_DEPLOYMENT", str(tmp_path / "other.json"))
    capsys.readouterr()
    assert main(["index"]) == 1
    assert "use another database" in capsys.readouterr().err


def test_settings_and_a_missing_deployment_are_named(
    devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKEND_PORT", "http")
    assert main(["serve"]) == 2
    assert "BACKEND_PORT='http'" in capsys.readouterr().err
    monkeypatch.delenv("BACKEND_PORT")
    monkeypatch.setenv("BACKEND_DEPLOYMENT", str(tmp_path / "missing.json"))
    assert main(["index"]) == 1
    assert "no deployment at" in capsys.readouterr().err
