"""Operating a deployment on any JSON-RPC node: deploy, register and suspend devices, grant and revoke
roles, pause; for a driver, list credits on the market, cancel a listing, withdraw what buyers paid;
and, for a devnet, register the real trip sample's cars and sign their days. The `gtc`
subcommands of the same names call these.

The operator's key comes from the environment (GTC_PRIVATE_KEY) or from an encrypted keystore file
(the JSON that geth, Foundry's `cast wallet` and MetaMask export), unlocked with GTC_KEYSTORE_PASSWORD
or a prompt. Every transaction is static-called first, so a refusal names the contract's custom error
and nothing is sent.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from getpass import getpass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from contracts.chain import Sender, connect
from contracts.client import (
    CreditContracts,
    Deployment,
    DeviceStatus,
    RateLimit,
    VehicleClass,
    deploy,
    format_kg,
)
from oracle import methodology
from oracle.device import DeviceSigner
from oracle.report import ReportDomain
from scripts.devnet import dev_account, dev_key
from scripts.trips import SAMPLE_DIR, daily_reports, load_sample

KEY_VARIABLE = "GTC_PRIVATE_KEY"
PASSWORD_VARIABLE = "GTC_KEYSTORE_PASSWORD"


class OperatorError(Exception):
    """What stops an operator command, in words; the command exits with status 1."""


def operator_account(keystore: Path | None, environ: Mapping[str, str] = os.environ) -> LocalAccount:
    """The key that signs: a keystore file when given, else GTC_PRIVATE_KEY."""
    if keystore is not None:
        try:
            encrypted = json.loads(keystore.read_text())
        except (OSError, ValueError) as exc:
            raise OperatorError(f"cannot read the keystore {keystore}: {exc}") from None
        password = environ.get(PASSWORD_VARIABLE)
        if password is None:
            if not sys.stdin.isatty():
                raise OperatorError(f"the keystore needs a password: set {PASSWORD_VARIABLE}")
            password = getpass(f"password for {keystore}: ")
        try:
            return Account.from_key(Account.decrypt(encrypted, password))
        except ValueError as exc:
            raise OperatorError(f"cannot unlock the keystore {keystore}: {exc}") from None
    key = environ.get(KEY_VARIABLE)
    if not key:
        raise OperatorError(f"no key: set {KEY_VARIABLE}, or pass --keystore FILE")
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise OperatorError(f"{KEY_VARIABLE} is not a 32-byte hex private key") from None


def sender_for(rpc_url: str, account: LocalAccount) -> Sender:
    w3 = connect(rpc_url)
    if not w3.is_connected():
        raise OperatorError(f"no node answers at {rpc_url}")
    return Sender(w3, account)


def attach(sender: Sender, deployment_path: Path) -> CreditContracts:
    """The deployment in the manifest, checked against the node: same chain, contracts present."""
    if not deployment_path.exists():
        raise OperatorError(f"no deployment manifest at {deployment_path} (deploy first, or pass --deployment)")
    try:
        deployment = Deployment.load(deployment_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable, not JSON, a field missing or wrong
        raise OperatorError(f"{deployment_path} is not a deployment manifest ({type(exc).__name__}: {exc})") from None
    chain_id = sender.w3.eth.chain_id
    if deployment.chain_id != chain_id:
        raise OperatorError(f"{deployment_path} is for chain {deployment.chain_id}, the node is chain {chain_id}")
    for name in ("registry", "token", "market"):
        address = getattr(deployment, name)
        if not sender.w3.eth.get_code(address):
            raise OperatorError(f"no contract at {address} ({name}) on this node: {deployment_path} is stale")
    return CreditContracts(sender.w3, deployment)


def deploy_all(sender: Sender, *, oracle: str, registrar: str, out: Path) -> Deployment:
    """Deploy the three contracts with the published methodologies and write the manifest to `out`."""
    if out.exists():
        raise OperatorError(f"{out} exists: a manifest is never overwritten (choose another --out)")
    deployment = deploy(
        sender,
        oracle=oracle,  # type: ignore[arg-type]  # checksummed by the CLI
        registrar=registrar,  # type: ignore[arg-type]
        methodologies=[method.registration() for method in methodology.load_all()],
        rate_limit=RateLimit(),
    )
    deployment.save(out)
    return deployment


def register_device(sender: Sender, contracts: CreditContracts, device: str, owner: str, vehicle: str) -> TxReceipt:
    vehicle_class = VEHICLE_CLASSES[vehicle]
    return sender.transact(contracts.registry.functions.registerDevice(device, owner, vehicle_class))


def set_device_status(sender: Sender, contracts: CreditContracts, device: str, status: DeviceStatus) -> TxReceipt:
    return sender.transact(contracts.registry.functions.setDeviceStatus(device, status))


VEHICLE_CLASSES = {
    "electric": VehicleClass.BATTERY_ELECTRIC,
    "petrol": VehicleClass.PETROL,
    "other": VehicleClass.OTHER,
}


@dataclass(frozen=True)
class Role:
    name: str
    """The role's constant in the contracts, e.g. ORACLE_ROLE."""
    contracts: tuple[str, ...]
    """Which of registry, token and market hold it."""


ROLES = {
    "oracle": Role("ORACLE_ROLE", ("token",)),
    "registrar": Role("REGISTRAR_ROLE", ("registry",)),
    "pauser": Role("PAUSER_ROLE", ("token", "market")),
}
"""The roles an admin grants and revokes. The admin role itself moves only through OpenZeppelin's
two-step, delayed transfer (AccessControlDefaultAdminRules), not here."""


def change_role(sender: Sender, contracts: CreditContracts, role: str, account: str, *, grant: bool) -> list[TxReceipt]:
    """Grant or revoke `role` on every contract that has it; one transaction each."""
    receipts = []
    for contract in _contracts(contracts, ROLES[role].contracts):
        role_id = contracts.role(contract, ROLES[role].name)
        call = contract.functions.grantRole if grant else contract.functions.revokeRole
        receipts.append(sender.transact(call(role_id, account)))
    return receipts


PAUSABLE = ("token", "market")


def set_paused(sender: Sender, contracts: CreditContracts, targets: tuple[str, ...], *, paused: bool) -> list[str]:
    """Pause or unpause the token and/or the market; returns those that changed (the others already were)."""
    changed = []
    for name, contract in zip(targets, _contracts(contracts, targets), strict=True):
        if contract.functions.paused().call() == paused:
            continue
        sender.transact(contract.functions.pause() if paused else contract.functions.unpause())
        changed.append(name)
    return changed


def list_credits(sender: Sender, contracts: CreditContracts, grams: int, price_per_kg_wei: int) -> int:
    """Put `grams` of the sender's credits up for sale at `price_per_kg_wei` (the market escrows them);
    approves the market first when its allowance falls short. Returns the listing's id."""
    # What createListing would refuse is checked before the approval, so that a refused listing sends nothing.
    balance = contracts.balance_of(sender.address)
    if balance < grams:
        raise OperatorError(
            f"{sender.address} holds {format_kg(balance)} kg, less than the {format_kg(grams)} kg to list"
        )
    if contracts.market.functions.paused().call():
        raise OperatorError("the market is paused (EnforcedPause): nothing was sent")
    if contracts.token.functions.allowance(sender.address, contracts.market.address).call() < grams:
        sender.transact(contracts.token.functions.approve(contracts.market.address, grams))
    receipt = sender.transact(contracts.market.functions.createListing(grams, price_per_kg_wei))
    (created,) = contracts.market.events.ListingCreated().process_receipt(receipt, errors=DISCARD)
    return int(created["args"]["listingId"])


def cancel_listing(sender: Sender, contracts: CreditContracts, listing_id: int) -> int:
    """Close the sender's listing; returns the grams that came back from escrow."""
    receipt = sender.transact(contracts.market.functions.cancelListing(listing_id))
    (cancelled,) = contracts.market.events.ListingCancelled().process_receipt(receipt, errors=DISCARD)
    return int(cancelled["args"]["returned"])


def withdraw_proceeds(sender: Sender, contracts: CreditContracts) -> int:
    """Send the sender everything buyers have paid for their listings; returns the wei withdrawn."""
    receipt = sender.transact(contracts.market.functions.withdrawProceeds())
    (withdrawn,) = contracts.market.events.ProceedsWithdrawn().process_receipt(receipt, errors=DISCARD)
    return int(withdrawn["args"]["amount"])


def _contracts(contracts: CreditContracts, names: tuple[str, ...]) -> list[Contract]:
    return [getattr(contracts, name) for name in names]


@dataclass(frozen=True)
class SampleVehicle:
    vehicle_id: str
    device: str
    owner: str
    reports: int
    newly_registered: bool


def sign_sample_trips(
    registrar: Sender,
    contracts: CreditContracts,
    out: Path,
    *,
    last_day: int,
    owner: str | None = None,
    sample_dir: Path = SAMPLE_DIR,
) -> list[SampleVehicle]:
    """Register the real trip sample's vehicles to `owner`, or each to a wallet of its own (device keys and
    wallets derived from public labels, as in the demo), and write their devices' signed reports to
    `out`, each vehicle's days moved so that its last one is `last_day`: reports a running oracle will
    take. Devices already registered are kept, with their owners."""
    domain = ReportDomain.from_eip712(contracts.report_domain())
    vehicles, lines = [], []
    for log in load_sample(sample_dir):
        device = DeviceSigner(dev_key(f"device {log.vehicle.vehicle_id}"))
        car_owner = owner or dev_account(f"driver {log.vehicle.vehicle_id}").address
        record = contracts.device(device.address)
        if record is None:
            register_device(registrar, contracts, device.address, car_owner, _vehicle_name(log.vehicle.vehicle_class))
        else:
            car_owner = record.owner
        reports = daily_reports(log, device.address)
        shift = last_day - max(report.day for report in reports) if reports else 0
        for report in reports:
            signed = device.sign(report.replace(day=report.day + shift), domain)
            lines.append((signed.report.day, json.dumps(signed.to_json())))
        vehicles.append(SampleVehicle(log.vehicle.vehicle_id, device.address, car_owner, len(reports), record is None))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for _, line in sorted(lines)))
    return vehicles


def _vehicle_name(vehicle_class: VehicleClass) -> str:
    return next(name for name, known in VEHICLE_CLASSES.items() if known is vehicle_class)
