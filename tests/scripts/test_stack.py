"""`gtc devnet --stack`: one command for a local stack. A report posted to the oracle it started is minted
by its minter and shows in the backend it started; stopping the devnet stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scripts.cli import main as gtc
from scripts.devnet import dev_key

pytestmark = pytest.mark.processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.3)


def test_the_stack_mints_a_posted_report_and_the_backend_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, oracle, backend = free_port(), free_port(), free_port()
    state = tmp_path / "devnet"
    log = (tmp_path / "stack.log").open("w")
    environment = os.environ | {"ORACLE_PORT": str(oracle), "BACKEND_PORT": str(backend)}
    command = [
        sys.executable,
        "-m",
        "scripts.cli",
        "devnet",
        "--port",
        str(chain),
        "--state-dir",
        str(state),
        "--stack",
    ]
    stack = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("the backend answers", lambda: httpx.get(f"http://127.0.0.1:{backend}/v1/stats").status_code == 200)
        wait_for("the oracle answers", lambda: httpx.get(f"http://127.0.0.1:{oracle}/docs").status_code == 200)

        # The registrar registers the sample's cars and their devices sign their days.
        monkeypatch.setenv("GTC_RPC_URL", f"http://127.0.0.1:{chain}")
        monkeypatch.setenv("GTC_PRIVATE_KEY", "0x" + dev_key("registrar").hex())
        reports = tmp_path / "reports.jsonl"
        assert gtc(["sample-trips", "--deployment", str(state / "deployment.json"), "--out", str(reports)]) == 0
        last_twizy_day = [line for line in reports.read_text().splitlines() if "0xca986eDfD270c545" in line][-1]

        posted = httpx.post(
            f"http://127.0.0.1:{oracle}/v1/reports",
            content=last_twizy_day,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert (posted.status_code, posted.json()["code"]) == (201, "ACCEPTED")
        grams = posted.json()["grams"]
        wait_for(
            "the minter mints it and the backend indexes it",
            lambda: httpx.get(f"http://127.0.0.1:{backend}/v1/stats").json()["minted"]["grams"] == grams,
        )
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=60)
        log.close()
    for port in (oracle, backend):  # the devnet stopped what it started
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
