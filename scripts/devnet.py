"""A local chain for development: an eth-tester (py-evm) chain served over HTTP JSON-RPC, with the
contracts deployed and development accounts funded (`gtc devnet`).

Wallets, ethers.js, web3.py and the project's own processes reach it like any node: single and batch
requests, `eth_chainId`, `eth_sendRawTransaction`, `eth_call`, `eth_estimateGas`, `eth_getLogs`, blocks,
receipts, fees. Reverts come back as a node reports them (code 3, the revert data), so clients decode
custom errors. Every transaction is mined at once into its own block. The chain is journaled into the
state folder (scripts/chainstate.py): a devnet stopped or killed restarts where it was, with the same
deployment, unless started with `fresh`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hexbytes import HexBytes
from web3 import Web3

from contracts.chain import Sender, connect, fund_from_node
from contracts.client import Deployment, deploy
from oracle import methodology
from oracle.settings import OracleSettings
from scripts.chainstate import JournaledDB, persist

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
SERVER_ERROR = -32000


def json_rpc_value(value: Any) -> Any:
    """web3's Python values back into JSON-RPC's: integers as hex quantities, bytes as hex data."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return HexBytes(value).to_0x_hex()
    if isinstance(value, Mapping):
        return {key: json_rpc_value(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [json_rpc_value(item) for item in value]
    return str(value)


class JsonRpc:
    """Answers JSON-RPC requests from an in-process chain, through web3's eth-tester adapters."""

    def __init__(self, w3: Web3, answered: Callable[[], None] = lambda: None) -> None:
        self.w3 = w3
        self._request = w3.provider.request_func(w3, w3.middleware_onion)
        self._answered = answered

    def answer(self, payload: Any) -> Any:
        """The response to a request or a batch; `answered` runs before it is returned (the journal is
        flushed there, so nothing is answered that a restart would forget)."""
        if isinstance(payload, list):
            response: Any = (
                [self._one(item) for item in payload] if payload else _error(None, INVALID_REQUEST, "empty batch")
            )
        else:
            response = self._one(payload)
        self._answered()
        return response

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_REQUEST, "a request is an object with a method")
        request_id = request.get("id")
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(request_id, INVALID_REQUEST, "params must be an array")
        if request["method"] == "net_version":  # eth-tester answers "1"; wallets compare it with the chain id
            return {"jsonrpc": "2.0", "id": request_id, "result": str(self.w3.eth.chain_id)}
        try:
            response = self._request(request["method"], params)
        except Exception as exc:  # any failure of the chain is answered, never a crash of the server
            log.info("%s failed: %s", request["method"], exc)
            return _error(request_id, SERVER_ERROR, str(exc) or type(exc).__name__)
        error = response.get("error")
        if error is not None:
            if isinstance(error, dict):
                code = error.get("code", SERVER_ERROR)
                if "Unknown RPC Endpoint" in str(error.get("message", "")):
                    code = METHOD_NOT_FOUND
                return {"jsonrpc": "2.0", "id": request_id, "error": error | {"code": code}}
            return _error(request_id, SERVER_ERROR, str(error))
        return {"jsonrpc": "2.0", "id": request_id, "result": json_rpc_value(response.get("result"))}


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def create_app(w3: Web3, answered: Callable[[], None] = lambda: None) -> FastAPI:
    rpc = JsonRpc(w3, answered)
    app = FastAPI(title="Green Travel Credits devnet", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/")
    async def json_rpc(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse(_error(None, PARSE_ERROR, "the body is not JSON"))
        return JSONResponse(rpc.answer(payload))

    return app


ROLES = ("admin", "oracle", "registrar", "driver", "buyer", "relayer")
"""The development accounts: the contracts' admin, the oracle's account, the registrar of devices, a
driver and a buyer to try things with, and the backend's relayer (it pays the gas of permit transfers)."""
FUNDS_WEI = 1_000 * 10**18


def dev_key(label: str) -> bytes:
    """A development key derived from a public label: reproducible, and worthless by design."""
    return keccak(text=f"green-travel-credits development key: {label}")


def dev_account(label: str) -> LocalAccount:
    return Account.from_key(dev_key(label))


@dataclass(frozen=True)
class Devnet:
    w3: Web3
    deployment: Deployment
    accounts: dict[str, LocalAccount]
    journal: JournaledDB
    restored: bool
    """The chain was restored from the state folder rather than started anew."""


def start(state_dir: Path, *, fresh: bool = False) -> Devnet:
    """An in-process chain with the contracts deployed and the development accounts funded, journaled
    into `state_dir`: the chain saved there is restored with its deployment, unless `fresh` (or there is
    none), in which case a new chain is started and deployed. Writes `deployment.json` (what the oracle
    and backend attach to) and `accounts.json` (addresses and keys) into `state_dir`."""
    journal_path, deployment_path = state_dir / "chain.journal", state_dir / "deployment.json"
    if fresh:
        journal_path.unlink(missing_ok=True)
        _remove_stack_stores(state_dir)  # they hold claims and events of the chain discarded
    w3 = connect()
    journal, restored = persist(w3, journal_path)
    accounts = {role: dev_account(role) for role in ROLES}
    for account in accounts.values():  # on a restored chain, only accounts added since it was saved
        if w3.eth.get_balance(account.address) == 0:
            fund_from_node(w3, account.address, FUNDS_WEI)
    deployment = _saved_deployment(w3, deployment_path) if restored else None
    if deployment is None:
        deployment = deploy(
            Sender(w3, accounts["admin"]),
            oracle=accounts["oracle"].address,
            registrar=accounts["registrar"].address,
            methodologies=[method.registration() for method in methodology.load_all()],
        )
        deployment.save(deployment_path)
    journal.flush()
    listing = {role: {"address": a.address, "privateKey": "0x" + bytes(a.key).hex()} for role, a in accounts.items()}
    (state_dir / "accounts.json").write_text(json.dumps(listing, indent=2) + "\n")
    return Devnet(w3, deployment, accounts, journal, restored)


def check_port_free(host: str, port: int) -> None:
    """Refuse to start (before deploying or writing anything) where the port is taken, typically by
    another devnet that the oracle would then be talking to instead."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortTaken(
                f"cannot listen on {host}:{port} ({exc.strerror}): is a devnet running? Try --port"
            ) from None


class PortTaken(Exception):
    """The devnet's port is in use."""


def _saved_deployment(w3: Web3, path: Path) -> Deployment | None:
    """The deployment saved beside a restored chain, if the chain holds it (a devnet killed while
    deploying has none: it deploys again)."""
    if not path.exists():
        return None
    deployment = Deployment.load(path)
    if deployment.chain_id != w3.eth.chain_id or not w3.eth.get_code(deployment.market):
        return None
    return deployment


STACK_MINT_EVERY_SECONDS = 5
ORACLE_STORE, BACKEND_STORE = "oracle.db", "backend.db"
"""The stack's databases, in the state folder beside the chain they follow."""


def _remove_stack_stores(state_dir: Path) -> None:
    for store in (ORACLE_STORE, BACKEND_STORE):
        for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite's files beside a database
            (state_dir / f"{store}{suffix}").unlink(missing_ok=True)


def stack_commands(url: str, devnet: Devnet, state_dir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The oracle (ingest API, and a minter that mints what it accepted within seconds) and the backend
    (API and indexer) as commands against this devnet, their stores in `state_dir`."""
    oracle = {
        "ORACLE_RPC_URL": url,
        "ORACLE_DEPLOYMENT": str(state_dir / "deployment.json"),
        "ORACLE_DATABASE_URL": f"sqlite:///{state_dir / ORACLE_STORE}",
        "ORACLE_PRIVATE_KEY": "0x" + bytes(devnet.accounts["oracle"].key).hex(),
        "ORACLE_BATCH_MAX_AGE_SECONDS": "0",
    }
    backend = {
        "BACKEND_RPC_URL": url,
        "BACKEND_DEPLOYMENT": str(state_dir / "deployment.json"),
        "BACKEND_DATABASE_URL": f"sqlite:///{state_dir / BACKEND_STORE}",
        "BACKEND_RELAYER_PRIVATE_KEY": "0x" + bytes(devnet.accounts["relayer"].key).hex(),
        # The dashboard's driver page asks the oracle started beside it, where its settings put it.
        "BACKEND_ORACLE_URL": f"http://{_oracle_setting('host')}:{_oracle_setting('port')}",
    }
    python = sys.executable
    return {
        "oracle API": ([python, "-m", "oracle.cli", "serve"], oracle),
        "oracle minter": ([python, "-m", "oracle.cli", "mint", "--every", str(STACK_MINT_EVERY_SECONDS)], oracle),
        "backend": ([python, "-m", "backend.cli", "serve"], backend),
    }


def _oracle_setting(name: str) -> str:
    """ORACLE_<NAME> as the stack's oracle will read it: the environment's, else the settings' default."""
    return os.environ.get(f"ORACLE_{name.upper()}", str(OracleSettings.model_fields[name].default))


def serve(devnet: Devnet, host: str, port: int, *, state_dir: Path | None = None) -> None:
    """Answer JSON-RPC on host:port until interrupted; with `state_dir`, also run the oracle and the
    backend against the chain (stopped with it)."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(create_app(devnet.w3, devnet.journal.flush), host=host, port=port, log_level="warning")
    )
    children = _Children()
    if state_dir is not None:
        commands = stack_commands(f"http://{host}:{port}", devnet, state_dir)
        threading.Thread(target=_start_when_listening, args=(server, commands, children), daemon=True).start()
    # uvicorn shuts down on SIGTERM, then raises it again once its own handler is gone: with the default
    # handler that would end the process before the `finally` stops the stack and closes the journal.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run()
    finally:
        children.stop()
        devnet.journal.close()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_when_listening(
    server: Any, commands: dict[str, tuple[list[str], dict[str, str]]], children: _Children
) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    for name, (command, environment) in commands.items():
        if not children.start(command, os.environ | environment):
            return
        print(f"  started the {name}: {' '.join(command[1:])}", flush=True)


class _Children:
    """The stack's processes. Once stopped it starts none, so a devnet stopped just as it was starting
    them leaves none behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopped = False

    def start(self, command: list[str], environment: Mapping[str, str]) -> bool:
        with self._lock:
            if self._stopped:
                return False
            self._processes.append(subprocess.Popen(command, env=environment))
            return True

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(timeout=30)
