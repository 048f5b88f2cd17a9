"""The devnet: JSON-RPC as wallets speak it, and a chain that survives a restart (scripts/devnet.py,
scripts/chainstate.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from contracts.chain import decode_revert
from contracts.client import CreditContracts
from scripts.chainstate import MAGIC, RECORD, SET, JournalError, read_journal
from scripts.cli import main
from scripts.devnet import Devnet, create_app, stack_commands, start
from scripts.serve import serving


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devnet")


@pytest.fixture(scope="module")
def devnet(state_dir: Path) -> Iterator[Devnet]:
    devnet = start(state_dir)
    yield devnet
    devnet.journal.close()


@pytest.fixture(scope="module")
def rpc(devnet: Devnet) -> Iterator[httpx.Client]:
    with serving(create_app(devnet.w3, devnet.journal.flush)) as url, httpx.Client(base_url=url) as client:
        yield client


def pay(w3: Web3, key: bytes, to: str, wei: int) -> str:
    sender = Account.from_key(key)
    transaction = {
        "to": to,
        "value": wei,
        "gas": 21_000,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
    }
    signed = sender.sign_transaction(transaction)
    return w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def test_a_batch_is_answered_in_order_with_each_request_s_id(rpc: httpx.Client, devnet: Devnet) -> None:
    answers = rpc.post(
        "/",
        json=[
            {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": "b", "method": "eth_blockNumber", "params": []},
            {"jsonrpc": "2.0", "id": 9, "method": "eth_noSuchMethod", "params": []},
            {"jsonrpc": "2.0", "id": 10, "method": "net_version", "params": []},
        ],
    ).json()
    assert [answer["id"] for answer in answers] == [7, "b", 9, 10]
    assert int(answers[0]["result"], 16) == devnet.deployment.chain_id
    assert int(answers[1]["result"], 16) == devnet.w3.eth.block_number
    assert answers[2]["error"]["code"] == -32601
    assert answers[3]["result"] == str(devnet.deployment.chain_id)  # decimal, as wallets expect


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", -32700),
        ("[]", -32600),
        ('{"id": 1}', -32600),
        ('{"id": 1, "method": "eth_call", "params": 3}', -32600),
    ],
)
def test_malformed_requests_get_json_rpc_errors(rpc: httpx.Client, body: str, code: int) -> None:
    answer = rpc.post("/", content=body, headers={"content-type": "application/json"}).json()
    assert answer["error"]["code"] == code


def test_a_revert_carries_the_custom_error_as_a_node_reports_it(rpc: httpx.Client, devnet: Devnet) -> None:
    """A static call of retire(0) answers code 3 with the revert data, which names the custom error."""
    token = CreditContracts(devnet.w3, devnet.deployment).token
    data = token.encode_abi("retire", args=[0, "", "", 0, 0])
    call = {"from": devnet.accounts["buyer"].address, "to": devnet.deployment.token, "data": data}
    answer = rpc.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]}).json()
    assert answer["error"]["code"] == 3
    assert decode_revert(answer["error"]["data"]).name == "CreditTokenZeroAmount"


def test_a_restarted_devnet_resumes_its_chain_and_deployment(state_dir: Path, devnet: Devnet) -> None:
    driver, buyer = devnet.accounts["driver"], devnet.accounts["buyer"]
    pay(devnet.w3, buyer.key, driver.address, 12_345)
    devnet.journal.flush()
    head = devnet.w3.eth.get_block("latest")
    balance = devnet.w3.eth.get_balance(driver.address)

    again = start(state_dir)
    try:
        assert again.restored
        assert again.deployment == devnet.deployment
        assert again.w3.eth.get_block("latest")["hash"] == head["hash"]
        assert again.w3.eth.get_balance(driver.address) == balance
        assert again.w3.eth.get_code(again.deployment.token) == devnet.w3.eth.get_code(devnet.deployment.token)
        pay(again.w3, buyer.key, driver.address, 1)  # the buyer's next nonce is the restored one
        assert again.w3.eth.get_balance(driver.address) == balance + 1
        assert again.w3.eth.get_block("latest")["parentHash"] == head["hash"]
    finally:
        again.journal.close()


def test_fresh_discards_the_saved_chain_and_the_stacks_stores_that_followed_it(tmp_path: Path) -> None:
    first = start(tmp_path)
    pay(first.w3, first.accounts["buyer"].key, first.accounts["driver"].address, 1)
    first.journal.close()
    stores = [tmp_path / name for name in ("oracle.db", "oracle.db-wal", "backend.db")]
    for store in stores:
        store.write_bytes(b"claims of the old chain")
    second = start(tmp_path, fresh=True)
    second.journal.close()
    assert not second.restored
    assert second.w3.eth.get_transaction_count(second.accounts["buyer"].address) == 0
    assert [store.exists() for store in stores] == [False, False, False]
    assert (tmp_path / "accounts.json").exists()


def test_a_record_torn_by_a_kill_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "chain.journal"
    whole = RECORD.pack(SET, 1, 2) + b"k" + b"v1"
    path.write_bytes(MAGIC + whole + RECORD.pack(SET, 1, 5) + b"kv")
    assert read_journal(path) == {b"k": b"v1"}


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain.journal"
    path.write_bytes(b"something else")
    with pytest.raises(JournalError, match="not a devnet journal"):
        read_journal(path)


def test_a_taken_port_stops_the_devnet_before_it_deploys_or_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["devnet", "--port", str(port), "--state-dir", str(tmp_path / "devnet")]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "devnet").exists()


def test_the_stack_s_backend_points_the_dashboard_at_the_stack_s_oracle(
    devnet: Devnet, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def oracle_url() -> str:
        _command, environment = stack_commands("http://127.0.0.1:8545", devnet, state_dir)["backend"]
        return environment["BACKEND_ORACLE_URL"]

    monkeypatch.delenv("ORACLE_HOST", raising=False)
    monkeypatch.delenv("ORACLE_PORT", raising=False)
    assert oracle_url() == "http://127.0.0.1:8600"
    monkeypatch.setenv("ORACLE_PORT", "9610")
    assert oracle_url() == "http://127.0.0.1:9610"
