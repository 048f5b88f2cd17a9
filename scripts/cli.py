"""`gtc`: the project's developer commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from contracts.chain import ContractRevert
    from scripts.operate import OperatorError

    try:
        return int(args.run(args) or 0)
    except OperatorError as exc:
        print(f"gtc: {exc}", file=sys.stderr)
        return 1
    except ContractRevert as exc:
        print(f"gtc: the contract refused, nothing was sent: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gtc", description="Green Travel Credits developer and operator commands")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the parts do")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole flow on the real trip sample, on an in-process chain")
    demo.add_argument("--work-dir", type=Path, default=Path("var/demo"), help="where the demo writes its files")
    demo.add_argument("--sample-dir", type=Path, default=None, help="trip logs (default: data/real-trips)")
    demo.set_defaults(run=_demo)

    compile_command = commands.add_parser("compile", help="compile contracts/src with py-solc-x into contracts/build")
    compile_command.set_defaults(run=_compile)

    devnet = commands.add_parser("devnet", help="a local chain with the contracts deployed, over JSON-RPC")
    devnet.add_argument("--host", default="127.0.0.1")
    devnet.add_argument("--port", type=int, default=8545)
    devnet.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/devnet"),
        help="where the chain is saved and deployment.json and accounts.json go (default var/devnet)",
    )
    devnet.add_argument("--fresh", action="store_true", help="discard the chain saved in the state folder, deploy anew")
    devnet.add_argument(
        "--stack",
        action="store_true",
        help="also run the oracle (API on :8600, minting every 5 s) and the backend (API on :8700) against it",
    )
    devnet.set_defaults(run=_devnet)

    # Operator commands, for any JSON-RPC node; the key from GTC_PRIVATE_KEY or --keystore.
    node = argparse.ArgumentParser(add_help=False)
    node.add_argument(
        "--rpc-url", default=os.environ.get("GTC_RPC_URL", "http://127.0.0.1:8545"), help="the node (GTC_RPC_URL)"
    )
    node.add_argument("--keystore", type=Path, help="an encrypted JSON keystore (password: GTC_KEYSTORE_PASSWORD)")
    attached = argparse.ArgumentParser(add_help=False, parents=[node])
    attached.add_argument(
        "--deployment",
        type=Path,
        default=Path(os.environ.get("GTC_DEPLOYMENT", "var/devnet/deployment.json")),
        help="the deployment manifest (GTC_DEPLOYMENT)",
    )

    deploy = commands.add_parser("deploy", parents=[node], help="deploy the contracts and write a manifest")
    deploy.add_argument("--oracle", type=_address, required=True, help="the account that may mint")
    deploy.add_argument("--registrar", type=_address, required=True, help="the account that registers devices")
    deploy.add_argument("--out", type=Path, required=True, help="where to write the deployment manifest")
    deploy.set_defaults(run=_deploy)

    device = commands.add_parser("device", help="register, suspend or reactivate a device (registrar)")
    device_commands = device.add_subparsers(dest="action", required=True)
    register = device_commands.add_parser("register", parents=[attached], help="register a device key for a car")
    register.add_argument("device", type=_address)
    register.add_argument("--owner", type=_address, required=True, help="the car owner's wallet")
    register.add_argument("--vehicle", choices=["electric", "petrol", "other"], required=True)
    register.set_defaults(run=_register_device)
    for action, status in (("suspend", "SUSPENDED"), ("reactivate", "ACTIVE")):
        command = device_commands.add_parser(action, parents=[attached], help=f"{action} a device")
        command.add_argument("device", type=_address)
        command.set_defaults(run=_set_device_status, status=status)

    role = commands.add_parser("role", help="grant or revoke the oracle, registrar or pauser role (admin)")
    role_commands = role.add_subparsers(dest="action", required=True)
    for action in ("grant", "revoke"):
        command = role_commands.add_parser(action, parents=[attached], help=f"{action} a role")
        command.add_argument("role", choices=["oracle", "registrar", "pauser"])
        command.add_argument("account", type=_address)
        command.set_defaults(run=_change_role, grant=action == "grant")

    sample = commands.add_parser(
        "sample-trips",
        parents=[attached],
        help="register the real trip sample's cars (registrar) and sign their days, moved to end yesterday",
    )
    sample.add_argument("--out", type=Path, default=Path("var/devnet/reports.jsonl"), help="the JSON-lines file")
    sample.add_argument(
        "--owner", type=_address, help="register every car to this wallet (default: a wallet of its own for each car)"
    )
    sample.set_defaults(run=_sample_trips)

    for action in ("pause", "unpause"):
        command = commands.add_parser(action, parents=[attached], help=f"{action} minting and trading (pauser)")
        command.add_argument("target", nargs="?", choices=["token", "market", "all"], default="all")
        command.set_defaults(run=_set_paused, paused=action == "pause")

    market = commands.add_parser("market", help="list your credits for sale, cancel a listing, withdraw proceeds")
    market_commands = market.add_subparsers(dest="action", required=True)
    offer = market_commands.add_parser("list", parents=[attached], help="list credits (escrowed by the market)")
    offer.add_argument("grams", type=_positive_int, help="how many grams of your credits (1 kg = 1000)")
    offer.add_argument("--price-per-kg-wei", type=_positive_int, required=True, help="the price of a kilogram, in wei")
    offer.set_defaults(run=_list_credits)
    cancel = market_commands.add_parser("cancel", parents=[attached], help="close your listing; the rest comes back")
    cancel.add_argument("listing", type=_positive_int, help="the listing's id")
    cancel.set_defaults(run=_cancel_listing)
    withdraw = market_commands.add_parser("withdraw", parents=[attached], help="withdraw what buyers paid you")
    withdraw.set_defaults(run=_withdraw_proceeds)

    sign = commands.add_parser(
        "sign",
        help="sign a transaction the backend prepared (JSON on stdin) with your own key; prints the relay's body",
    )
    sign.add_argument("--keystore", type=Path, help="an encrypted JSON keystore (password: GTC_KEYSTORE_PASSWORD)")
    sign.set_defaults(run=_sign)
    return parser


def _sign(args: argparse.Namespace) -> int:
    import json

    from scripts.operate import OperatorError, operator_account
    from scripts.wallet import sign_prepared

    try:
        prepared = json.loads(sys.stdin.read())
    except ValueError as exc:
        raise OperatorError(f"stdin is not JSON: {exc}") from None
    if not isinstance(prepared, dict):
        raise OperatorError("stdin must hold a JSON object: an order, or its transaction")
    print(json.dumps({"rawTransaction": sign_prepared(prepared, operator_account(args.keystore))}))
    return 0


def _positive_int(value: str) -> int:
    if not value.isascii() or not value.isdecimal() or not 0 < int(value) < 2**256:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 2^256 - 1")
    return int(value)


def _address(value: str) -> str:
    from contracts.addresses import parse_address

    try:
        return parse_address(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- developer commands ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from backend.settings import BackendSettings
    from contracts.environment import setting_errors
    from oracle.settings import OracleSettings
    from scripts.demo import run_demo
    from scripts.trips import SAMPLE_DIR

    try:
        oracle_settings, backend_settings = OracleSettings(), BackendSettings()
    except ValidationError as exc:
        prefix = {"OracleSettings": "ORACLE_", "BackendSettings": "BACKEND_"}[exc.title]
        for line in setting_errors(exc, prefix):
            print(f"gtc: {line}", file=sys.stderr)
        return 2
    run_demo(
        args.work_dir, args.sample_dir or SAMPLE_DIR, oracle_settings=oracle_settings, backend_settings=backend_settings
    )
    return 0


def _compile(_args: argparse.Namespace) -> int:
    from contracts import docs as contract_docs
    from contracts.compiler import CompilationFailed, compile_all, write_artifacts

    try:
        artifacts = compile_all()
    except CompilationFailed as exc:
        print(f"gtc: the contracts do not compile:\n{exc}", file=sys.stderr)
        return 1
    write_artifacts(artifacts)
    contract_docs.write()
    print(f"wrote contracts/build/ and {contract_docs.DOCS_PATH.relative_to(Path.cwd())}")
    for artifact in artifacts.values():
        size = len(artifact.deployed_bytecode) // 2 - 1
        print(f"{artifact.contract_name:<15} {size:>6} bytes  solc {artifact.compiler}")
    return 0


def _devnet(args: argparse.Namespace) -> int:
    from scripts.devnet import PortTaken, check_port_free, serve, start

    try:
        check_port_free(args.host, args.port)
    except PortTaken as exc:
        print(f"gtc: {exc}", file=sys.stderr)
        return 1
    devnet = start(args.state_dir, fresh=args.fresh)
    head = devnet.w3.eth.block_number
    origin = f"restored from {args.state_dir} at block {head}" if devnet.restored else "new, contracts deployed"
    print(f"devnet: chain {devnet.deployment.chain_id} at http://{args.host}:{args.port} ({origin})")
    for name in ("registry", "token", "market"):
        print(f"  {name:<9} {getattr(devnet.deployment, name)}")
    print(f"  deployment and development keys in {args.state_dir}/ (public keys: never use them on a real chain)")
    for role, account in devnet.accounts.items():
        print(f"  {role:<9} {account.address}  0x{bytes(account.key).hex()}")
    print(f"  the chain is saved in {args.state_dir} as it grows: restarting resumes it (--fresh starts anew)")
    serve(devnet, args.host, args.port, state_dir=args.state_dir if args.stack else None)
    return 0


# -- operator commands ----------------------------------------------------------------------------


def _deploy(args: argparse.Namespace) -> int:
    from scripts.operate import deploy_all, operator_account, sender_for

    sender = sender_for(args.rpc_url, operator_account(args.keystore))
    deployment = deploy_all(sender, oracle=args.oracle, registrar=args.registrar, out=args.out)
    print(f"deployed on chain {deployment.chain_id} from block {deployment.block} by {sender.address} (admin):")
    for name in ("registry", "token", "market"):
        print(f"  {name:<9} {getattr(deployment, name)}")
    print(f"  oracle    {args.oracle}\n  registrar {args.registrar}\nmanifest written to {args.out}")
    return 0


def _attached(args: argparse.Namespace) -> tuple[Any, Any]:
    from scripts.operate import attach, operator_account, sender_for

    sender = sender_for(args.rpc_url, operator_account(args.keystore))
    return sender, attach(sender, args.deployment)


def _register_device(args: argparse.Namespace) -> int:
    from scripts.operate import register_device

    sender, contracts = _attached(args)
    receipt = register_device(sender, contracts, args.device, args.owner, args.vehicle)
    record = contracts.device(args.device)
    index = "?" if record is None else record.index
    print(f"registered {args.device} ({args.vehicle}) for {args.owner}: device {index}, block {receipt['blockNumber']}")
    return 0


def _set_device_status(args: argparse.Namespace) -> int:
    from contracts.client import DeviceStatus
    from scripts.operate import set_device_status

    sender, contracts = _attached(args)
    set_device_status(sender, contracts, args.device, DeviceStatus[args.status])
    print(f"{args.device} is now {args.status.lower()}")
    return 0


def _change_role(args: argparse.Namespace) -> int:
    from scripts.operate import ROLES, change_role

    sender, contracts = _attached(args)
    change_role(sender, contracts, args.role, args.account, grant=args.grant)
    where = " and ".join(ROLES[args.role].contracts)
    done = f"granted {args.role} to" if args.grant else f"revoked {args.role} from"
    print(f"{done} {args.account} on the {where}")
    return 0


def _sample_trips(args: argparse.Namespace) -> int:
    from contracts.client import day_label
    from scripts.operate import sign_sample_trips

    sender, contracts = _attached(args)
    yesterday = contracts.chain_day() - 1
    vehicles = sign_sample_trips(sender, contracts, args.out, last_day=yesterday, owner=args.owner)
    for vehicle in vehicles:
        registered = "registered" if vehicle.newly_registered else "already registered"
        car = f"{vehicle.vehicle_id:<8} {vehicle.reports} days, device {vehicle.device}, owner {vehicle.owner}"
        print(f"  {car} ({registered})")
    total = sum(vehicle.reports for vehicle in vehicles)
    print(f"{total} signed reports, each car's last day moved to {day_label(yesterday)}, written to {args.out}")
    return 0


def _list_credits(args: argparse.Namespace) -> int:
    from contracts.client import format_kg
    from scripts.operate import list_credits

    sender, contracts = _attached(args)
    listing_id = list_credits(sender, contracts, args.grams, args.price_per_kg_wei)
    print(f"listing {listing_id}: {format_kg(args.grams)} kg of {sender.address} at {args.price_per_kg_wei} wei/kg")
    return 0


def _cancel_listing(args: argparse.Namespace) -> int:
    from contracts.client import format_kg
    from scripts.operate import cancel_listing

    sender, contracts = _attached(args)
    returned = cancel_listing(sender, contracts, args.listing)
    print(f"listing {args.listing} cancelled: {format_kg(returned)} kg back to {sender.address}")
    return 0


def _withdraw_proceeds(args: argparse.Namespace) -> int:
    from scripts.operate import withdraw_proceeds

    sender, contracts = _attached(args)
    print(f"withdrew {withdraw_proceeds(sender, contracts)} wei to {sender.address}")
    return 0


def _set_paused(args: argparse.Namespace) -> int:
    from scripts.operate import PAUSABLE, set_paused

    sender, contracts = _attached(args)
    targets = PAUSABLE if args.target == "all" else (args.target,)
    changed = set_paused(sender, contracts, targets, paused=args.paused)
    state = "paused" if args.paused else "running"
    for name in targets:
        print(f"{name}: {state}" + ("" if name in changed else " (already)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
