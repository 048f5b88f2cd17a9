"""The whole flow on real trip logs, on an in-process chain: what `make demo` runs.

Deploy → register the sample's vehicles → their devices sign daily reports from the real logs → the oracle
judges them (plus a few deliberately bad ones, sent over HTTP) → mint → index → a driver lists credits, a
buyer buys part and retires some → balances and totals read back from the backend's API and checked
against the chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from backend.api import create_app as create_backend_app
from backend.db import Database
from backend.indexer import Indexer
from backend.settings import BackendSettings
from contracts.chain import TESTER, Sender, connect, fund_from_node
from contracts.client import CreditContracts, day_date, day_number, deploy, format_kg
from oracle import methodology
from oracle.api import create_app as create_oracle_app
from oracle.device import DeviceSigner
from oracle.minter import Minter
from oracle.report import DailyReport, ReportDomain, SignedReport
from oracle.schemas import read_report_file
from oracle.service import Decision, Oracle
from oracle.settings import OracleSettings
from oracle.store import OracleStore, ReportStatus
from scripts.devnet import dev_account, dev_key
from scripts.serve import serving
from scripts.trips import SAMPLE_DIR, VehicleLog, daily_reports, load_sample

ETHER = 10**18
PRICE_PER_KG_WEI = 2 * 10**14
"""0.0002 ether per kg: what the demo's driver asks."""
LISTED_GRAMS = 5_000
BOUGHT_GRAMS = 3_000
RETIRED_GRAMS = 2_000
SELLER_VEHICLE = "twizy"


class ReplayClock:
    """The oracle's clock during a replay of history: each report arrives the morning after its day."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def morning_after(self, day: int) -> None:
        self.now = datetime.combine(day_date(day) + timedelta(days=1), time(6, 0), UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DemoResult:
    contracts: CreditContracts
    backend_db: Database
    oracle_store: OracleStore
    drivers: dict[str, ChecksumAddress]
    buyer: ChecksumAddress
    accepted: int = 0
    rejected: int = 0
    minted_grams: int = 0
    bought_grams: int = 0
    retired_grams: int = 0
    decisions: list[tuple[str, Decision]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"SUMMARY reports_accepted={self.accepted} reports_rejected={self.rejected} "
            f"kg_minted={format_kg(self.minted_grams)} kg_bought={format_kg(self.bought_grams)} "
            f"kg_retired={format_kg(self.retired_grams)}"
        )


def run_demo(
    work_dir: Path,
    sample_dir: Path = SAMPLE_DIR,
    echo: Callable[[str], None] = print,
    oracle_settings: OracleSettings | None = None,
    backend_settings: BackendSettings | None = None,
) -> DemoResult:
    oracle_settings = oracle_settings or OracleSettings()
    backend_settings = backend_settings or BackendSettings()
    work_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("oracle.db", "backend.db", "reports.jsonl", "deployment.json"):
        for path in work_dir.glob(stale + "*"):
            path.unlink()

    # -- chain and contracts -------------------------------------------------------------------
    w3 = connect(TESTER)
    admin, oracle_key, registrar, buyer = (dev_account(name) for name in ("admin", "oracle", "registrar", "buyer"))
    for account in (admin, oracle_key, registrar, buyer):
        fund_from_node(w3, account.address, 1_000 * ETHER)
    published = methodology.load_all()
    chosen = oracle_settings.load_methodologies()
    deployment = deploy(
        Sender(w3, admin),
        oracle=oracle_key.address,
        registrar=registrar.address,
        methodologies=[method.registration() for method in published],
    )
    deployment.save(work_dir / "deployment.json")
    contracts = CreditContracts(w3, deployment)
    echo("Green Travel Credits: the whole flow on real trip logs")
    echo(f"  chain         in-process eth-tester, chain id {deployment.chain_id}")
    echo(f"  contracts     DeviceRegistry {deployment.registry}")
    echo(f"                CreditToken    {deployment.token} (1 GTC = 1 kg CO2e, 3 decimals)")
    echo(f"                CreditMarket   {deployment.market}")
    for method in chosen:
        covers = " and ".join(sorted(kind.name.lower().replace("_", "-") for kind in method.covers))
        keccak_prefix = method.params_hash.hex()[:16]
        echo(f"  methodology   {method.label} for {covers} cars, parameter file keccak {keccak_prefix}…")
    echo("  keys          development keys derived from public labels: worthless, never use them for value")

    # -- vehicles, devices, signed reports -------------------------------------------------------
    logs = load_sample(sample_dir)
    registrar_sender = Sender(w3, registrar)
    domain = ReportDomain.from_eip712(contracts.report_domain())
    drivers: dict[str, ChecksumAddress] = {}
    signed_reports: list[tuple[str, SignedReport]] = []
    echo(f"\nVehicles in {_shown(sample_dir)}: one device key and one owner wallet each")
    for log in logs:
        device = DeviceSigner(dev_key(f"device {log.vehicle.vehicle_id}"))
        owner = dev_account(f"driver {log.vehicle.vehicle_id}")
        fund_from_node(w3, owner.address, 10 * ETHER)
        registrar_sender.transact(
            contracts.registry.functions.registerDevice(device.address, owner.address, log.vehicle.vehicle_class)
        )
        drivers[log.vehicle.vehicle_id] = owner.address
        reports = daily_reports(log, device.address)
        signed_reports += [(log.vehicle.vehicle_id, device.sign(report, domain)) for report in reports]
        echo(f"  {log.vehicle.vehicle_id:<8} {log.vehicle.description:<44} {_days(log, reports)}")
    reports_file = work_dir / "reports.jsonl"
    signed_reports.sort(key=lambda item: (item[1].report.day, item[0]))
    reports_file.write_text("".join(json.dumps(signed.to_json()) + "\n" for _, signed in signed_reports))
    echo(f"  {len(signed_reports)} daily reports signed (EIP-712) and written to {_shown(reports_file)}")

    # -- the oracle judges the file ------------------------------------------------------------
    oracle_store = OracleStore(f"sqlite:///{work_dir / 'oracle.db'}")
    clock = ReplayClock()
    oracle = Oracle(oracle_store, contracts, chosen, limits=oracle_settings.limits(), clock=clock)
    result = DemoResult(
        contracts, Database(f"sqlite:///{work_dir / 'backend.db'}"), oracle_store, drivers, buyer.address
    )
    vehicle_of_device = {signed.report.device: vehicle for vehicle, signed in signed_reports}
    echo("\nOracle, replaying the file (each report arrives the morning after its day)")
    for entry in read_report_file(reports_file):
        if entry.signed is None:
            raise RuntimeError(f"{reports_file}:{entry.line}: {entry.error}")
        signed = entry.signed
        clock.morning_after(signed.report.day)
        decision = oracle.ingest(signed)
        result.decisions.append((vehicle_of_device[signed.report.device], decision))
        echo(f"  {day_date(signed.report.day)} {vehicle_of_device[signed.report.device]:<8} {_decision(decision)}")

    # -- deliberately bad reports, over HTTP -----------------------------------------------------
    echo("\nDeliberately bad reports, posted to the oracle's HTTP API")
    twizy_first = next(signed for vehicle, signed in signed_reports if vehicle == SELLER_VEHICLE)
    twizy_device = DeviceSigner(dev_key(f"device {SELLER_VEHICLE}"))
    stranger = DeviceSigner(dev_key("unregistered device"))
    tampered = SignedReport(twizy_first.report.replace(distance_m=twizy_first.report.distance_m * 2),
                            twizy_first.signature, domain.chain_id, domain.registry)  # fmt: skip
    second_version = twizy_device.sign(twizy_first.report.replace(trace_hash=keccak(text="another trace")), domain)
    foreign = stranger.sign(twizy_first.report.replace(device=stranger.address), domain)
    attempts = [
        ("distance doubled after signing", tampered),
        ("signed by an unregistered key", foreign),
        ("a second, different report for a credited day", second_version),
        ("the same report sent again", twizy_first),
    ]
    clock.morning_after(twizy_first.report.day)
    with serving(create_oracle_app(oracle)) as oracle_url:
        for label, signed in attempts:
            response = httpx.post(f"{oracle_url}/v1/reports", json=signed.to_json(), timeout=30)
            body = response.json()
            repeat = body["duplicate"] and body["status"] == "accepted"
            outcome = "duplicate of an accepted report: nothing stored" if repeat else body["message"]
            echo(f"  {label:<46} HTTP {response.status_code} {body['code']}: {outcome}")
    result.accepted, result.rejected = _count_decisions(oracle_store)

    # -- mint ----------------------------------------------------------------------------------
    echo("\nMinting the accepted claims, one batch per day (the token refuses a second credit for any device-day)")
    for minted in Minter(oracle_store, contracts, Sender(w3, oracle_key), oracle_settings.batch_policy()).run():
        result.minted_grams += minted.grams
        device_days = f"{minted.claims} device-day{'s' if minted.claims > 1 else ''}"
        echo(
            f"  batch {minted.chain_batch_id} for {day_date(minted.day)}: {device_days}, {format_kg(minted.grams)} kg, "
            f"tx {minted.tx_hash[:18]}…, {minted.gas_used:,} gas"
        )

    # -- market --------------------------------------------------------------------------------
    seller = dev_account(f"driver {SELLER_VEHICLE}")
    seller_sender, buyer_sender = Sender(w3, seller), Sender(w3, buyer)
    token, market = contracts.token.functions, contracts.market.functions
    echo("\nMarket")
    seller_sender.transact(token.approve(deployment.market, LISTED_GRAMS))
    listing_receipt = seller_sender.transact(market.createListing(LISTED_GRAMS, PRICE_PER_KG_WEI))
    listing_id = contracts.market.events.ListingCreated().process_receipt(listing_receipt, errors=DISCARD)[0]["args"][
        "listingId"
    ]
    echo(
        f"  the {SELLER_VEHICLE} driver lists {format_kg(LISTED_GRAMS)} kg at {ether(PRICE_PER_KG_WEI)} ETH/kg "
        f"(listing {listing_id})"
    )
    price = market.priceOf(listing_id, BOUGHT_GRAMS).call()
    buyer_sender.transact(market.buy(listing_id, BOUGHT_GRAMS), value=price)
    result.bought_grams = BOUGHT_GRAMS
    echo(f"  the buyer buys {format_kg(BOUGHT_GRAMS)} kg of it for {ether(price)} ETH")
    november = (day_number(date(2017, 11, 1)), day_number(date(2017, 11, 30)))
    retire_receipt = buyer_sender.transact(
        token.retire(RETIRED_GRAMS, "Acme Insurance", "Staff commuting, November 2017", *november)
    )
    retirement_id = contracts.token.events.CreditsRetired().process_receipt(retire_receipt, errors=DISCARD)[0]["args"][
        "retirementId"
    ]
    result.retired_grams = RETIRED_GRAMS
    echo(f"  the buyer retires {format_kg(RETIRED_GRAMS)} kg for Acme Insurance: retirement #{retirement_id}")
    seller_sender.transact(market.withdrawProceeds())
    echo(f"  the driver withdraws the {ether(price)} ETH paid")

    # -- index and read back over HTTP ---------------------------------------------------------
    db = result.backend_db
    db.migrate()
    synced = Indexer(w3, deployment, db, range_blocks=backend_settings.range_blocks).sync()
    echo(f"\nBackend: indexed {synced.events} events from blocks {synced.from_block}..{synced.to_block}")
    with serving(create_backend_app(db, contracts)) as api_url, httpx.Client(base_url=api_url, timeout=30) as api:
        for name, address in (("driver (" + SELLER_VEHICLE + ")", seller.address), ("buyer", buyer.address)):
            account = api.get(f"/v1/accounts/{address}").json()
            on_chain = contracts.balance_of(address)
            _check(int(account["balance"]["grams"]) == on_chain, f"API balance of {name} differs from the chain")
            echo(
                f"  {name:<15} balance {account['balance']['kg']:>7} kg (balanceOf on chain: {format_kg(on_chain)}), "
                f"minted {account['minted']['kg']}, bought {account['bought']['kg']}, "
                f"sold {account['sold']['kg']}, retired {account['retired']['kg']}"
            )
        for listing in api.get("/v1/listings").json()["data"]:
            echo(
                f"  listing {listing['listingId']}       {listing['remaining']['kg']} kg left in escrow at "
                f"{ether(int(listing['pricePerKgWei']))} ETH/kg"
            )
        stats = api.get("/v1/stats").json()
        health = api.get("/health").json()
        certificate = api.get(f"/v1/retirements/{retirement_id}").json()
    supply = contracts.supply()
    _check(health["supplyMatches"], "the indexed supply differs from the chain")
    _check(int(stats["minted"]["grams"]) == supply.issued == result.minted_grams, "minted totals differ")
    echo(
        f"  totals          minted {stats['minted']['kg']} kg, retired {stats['retired']['kg']} kg, "
        f"circulating {stats['circulating']['kg']} kg; {stats['drivers']} drivers, {stats['devices']} devices, "
        f"{stats['creditedDays']} credited days"
    )
    echo(
        f"  certificate #{certificate['retirementId']}: {certificate['amount']['kg']} kg for "
        f"{certificate['beneficiary']} ({certificate['purpose']}), tx {certificate['txHash'][:18]}…"
    )
    echo(f"  health          indexed to block {health['indexedBlock']} of {health['chainHead']}; supply matches")
    echo("")
    echo(result.summary())
    return result


def ether(wei: int) -> str:
    """Exact decimal ether, for display: 600000000000000 → "0.0006"."""
    return f"{Web3.from_wei(wei, 'ether'):f}"


def _count_decisions(store: OracleStore) -> tuple[int, int]:
    """Reports accepted and rejected, as stored (a resent duplicate is not stored twice)."""
    reports = store.reports()
    accepted = sum(1 for report in reports if report.status is ReportStatus.ACCEPTED)
    return accepted, len(reports) - accepted


def _decision(decision: Decision) -> str:
    if decision.status is ReportStatus.ACCEPTED:
        return f"accepted {format_kg(decision.grams):>6} kg  {decision.message}"
    return f"rejected {decision.code}: {decision.message}"


def _days(log: VehicleLog, reports: list[DailyReport]) -> str:
    driving = len(log.days)
    idle = len(reports) - driving
    idle_days = f", {idle} idle day{'s' if idle > 1 else ''} between trips" if idle else ""
    return f"{driving} driving days{idle_days}"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"demo check failed: {message}")
