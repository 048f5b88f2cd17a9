"""A second, independent client: ethers.js (clients/ethers/buy-and-retire.mjs) buys and retires credits
on the devnet over JSON-RPC, and the Python side sees the result through the backend's API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from backend.api import create_app as backend_app
from backend.db import Database
from backend.indexer import Indexer
from contracts.chain import Sender
from contracts.client import CreditContracts, VehicleClass
from scripts.devnet import Devnet, start
from scripts.devnet import create_app as devnet_app
from scripts.serve import serving
from tests.helpers import issue

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "clients" / "ethers" / "buy-and-retire.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "ethers").is_dir(),
    reason="needs Node.js and ethers from `npm ci` (make test runs it when npm is present)",
)


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[tuple[Devnet, str]]:
    devnet = start(tmp_path / "devnet")
    with serving(devnet_app(devnet.w3, devnet.journal.flush)) as url:
        yield devnet, url
    devnet.journal.close()


def test_ethers_buys_and_retires_and_the_api_shows_it(devnet: tuple[Devnet, str], tmp_path: Path) -> None:
    node, url = devnet
    w3, accounts = node.w3, node.accounts
    contracts = CreditContracts(w3, node.deployment)
    as_role = {role: Sender(w3, account) for role, account in accounts.items()}
    driver, buyer = accounts["driver"].address, accounts["buyer"].address

    ev, petrol = Account.create().address, Account.create().address
    registry, token, market = contracts.registry.functions, contracts.token.functions, contracts.market.functions
    as_role["registrar"].transact(registry.registerDevice(ev, driver, VehicleClass.BATTERY_ELECTRIC))
    as_role["registrar"].transact(registry.registerDevice(petrol, driver, VehicleClass.PETROL))
    yesterday = int(datetime.now(UTC).timestamp()) // 86_400 - 1
    issue(contracts, as_role["oracle"], yesterday, (ev, 1750), (petrol, 2580))
    as_role["driver"].transact(token.approve(node.deployment.market, 2000))
    as_role["driver"].transact(market.createListing(1000, 5 * 10**14))  # listing 1: dearer
    as_role["driver"].transact(market.createListing(1000, 3 * 10**14))  # listing 2: cheaper, bought first
    driver_balance = contracts.balance_of(driver)
    buyer_wei = w3.eth.get_balance(buyer)

    environment = {
        "GTC_RPC_URL": url,
        "GTC_DEPLOYMENT": str(tmp_path / "devnet" / "deployment.json"),
        "BUYER_KEY": "0x" + bytes(accounts["buyer"].key).hex(),
        "DRIVER": driver,
        "GRAMS": "1500",
        "RETIRE_GRAMS": "1000",
        "BENEFICIARY": "Acme Insurance",
    }
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(SCRIPT)], env=os.environ | environment, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)

    # What ethers saw and did, checked against the chain.
    assert result["chainId"] == str(node.deployment.chain_id)
    assert result["driverBalance"] == str(driver_balance) == "2330"
    assert result["listingsUsed"] == ["2", "1"]
    price = 1000 * 3 * 10**14 // 1000 + 500 * 5 * 10**14 // 1000
    assert result["pricePaid"] == str(price)
    assert result["refusal"] == "CreditMarketOrderNotFilled"
    assert result["buyerBalance"] == "500" == str(contracts.balance_of(buyer))
    receipts = [w3.eth.get_transaction_receipt(result[key]) for key in ("buyTx", "retireTx")]
    gas_wei = sum(receipt["gasUsed"] * receipt["effectiveGasPrice"] for receipt in receipts)
    assert w3.eth.get_balance(buyer) == buyer_wei - price - gas_wei, "exactly the quoted price was kept"

    # What the Python side sees through the backend, after indexing.
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")
    db.migrate()
    Indexer(w3, node.deployment, db).sync()
    with serving(backend_app(db, contracts)) as api_url, httpx.Client(base_url=api_url) as api:
        account = api.get(f"/v1/accounts/{buyer}").json()
        assert (account["balance"]["grams"], account["bought"]["grams"], account["retired"]["grams"]) == (
            "500",
            "1500",
            "1000",
        )
        retirement = api.get(f"/v1/retirements/{result['retirementId']}").json()
        assert (retirement["beneficiary"], retirement["amount"]["grams"]) == ("Acme Insurance", "1000")
