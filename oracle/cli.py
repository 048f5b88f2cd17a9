"""`oracle`: run the oracle against a node and a deployment (see ORACLE_* in the README).

oracle serve                 the ingest API (POST /v1/reports, GET /v1/devices/{device}/days)
oracle ingest FILE           decide on the signed reports of a JSON-lines file
oracle mint [--dry-run]      mint the pending claims that are due (or, dry, show what would be sent)
oracle explain DEVICE        what happened to a device's reports, day by day
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from contracts.addresses import parse_address
from contracts.chain import Sender, connect
from contracts.client import CreditContracts, Deployment, day_label, day_number, format_kg
from contracts.environment import setting_errors
from oracle.batching import BatchPlanner, MintingBlocked, PlannedBatch
from oracle.errors import OracleError
from oracle.explain import describe, explain
from oracle.minter import Minter, MinterBusy, MintResult, simulate_mint
from oracle.schemas import ReportLine, read_report_file
from oracle.service import Oracle
from oracle.settings import OracleSettings
from oracle.store import OracleStore, ReportStatus
from oracle.tuning import tune_garbage_collector

log = logging.getLogger("oracle")


class CommandError(Exception):
    """What stops a command, in words for the operator; exit status 1."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = OracleSettings()
    except ValidationError as exc:
        for line in setting_errors(exc, "ORACLE_"):
            print(f"oracle: {line}", file=sys.stderr)
        return 2
    tune_garbage_collector()
    try:
        return int(args.run(settings, args) or 0)
    except (CommandError, OracleError) as exc:
        print(f"oracle: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oracle", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision and transaction")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the ingest API on ORACLE_HOST:ORACLE_PORT")
    serve.set_defaults(run=_serve)

    ingest = commands.add_parser("ingest", help="decide on the signed reports of a JSON-lines file")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--chunk", type=int, default=1_000, help="reports decided per transaction (default 1000)")
    ingest.set_defaults(run=_ingest)

    mint = commands.add_parser("mint", help="mint the pending claims that are due, once or repeatedly")
    mint.add_argument("--dry-run", action="store_true", help="show the batches a run would send; needs no key")
    mint.add_argument("--all", action="store_true", help="mint every pending claim now, due or not")
    mint.add_argument("--every", type=float, metavar="SECONDS", help="run again after this many seconds, forever")
    mint.set_defaults(run=_mint)

    explain_days = commands.add_parser("explain", help="what happened to a device's reports, day by day")
    explain_days.add_argument("device", type=_address)
    explain_days.add_argument("--from", dest="first", type=date.fromisoformat, help="first UTC day (YYYY-MM-DD)")
    explain_days.add_argument("--to", dest="last", type=date.fromisoformat, help="last UTC day (default: yesterday)")
    explain_days.add_argument("--json", action="store_true", help="print JSON, as the API answers")
    explain_days.set_defaults(run=_explain)
    return parser


def _address(value: str) -> str:
    try:
        return parse_address(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- wiring ---------------------------------------------------------------------------------------


def _contracts(settings: OracleSettings) -> CreditContracts:
    if not settings.deployment.exists():
        raise CommandError(
            f"no deployment at {settings.deployment}: start a chain with `gtc devnet`, or set ORACLE_DEPLOYMENT"
        )
    w3 = connect(settings.rpc_url)
    if not w3.is_connected():
        raise CommandError(f"no node answers at {settings.rpc_url} (ORACLE_RPC_URL)")
    try:
        return CreditContracts(w3, Deployment.load(settings.deployment))
    except ValueError as exc:
        raise CommandError(f"{settings.deployment} does not fit the node at {settings.rpc_url}: {exc}") from None


def _store(settings: OracleSettings) -> OracleStore:
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return OracleStore(settings.database_url)


def _oracle(settings: OracleSettings) -> Oracle:
    return Oracle(_store(settings), _contracts(settings), settings.load_methodologies(), settings.limits())


# -- commands -------------------------------------------------------------------------------------


def _serve(settings: OracleSettings, _args: argparse.Namespace) -> int:
    import uvicorn

    from oracle.api import create_app

    app = create_app(_oracle(settings))
    print(f"oracle: serving on http://{settings.host}:{settings.port} (docs at /docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _ingest(settings: OracleSettings, args: argparse.Namespace) -> int:
    if args.chunk < 1:
        raise CommandError("--chunk must be at least 1")
    if not args.file.is_file():
        raise CommandError(f"no file {args.file}")
    oracle = _oracle(settings)
    counts = {"accepted": 0, "repeated": 0, "rejected": 0, "not a report": 0}
    for chunk in _chunks(read_report_file(args.file), args.chunk):
        reports = [line for line in chunk if line.signed is not None]
        for line in chunk:
            if line.signed is None:
                counts["not a report"] += 1
                print(f"line {line.line}: not a report: {line.error}")
        decisions = oracle.ingest_many([line.signed for line in reports if line.signed is not None])
        for line, decision in zip(reports, decisions, strict=True):
            if decision.status is ReportStatus.REJECTED:
                counts["rejected"] += 1
                again = " (again: stored once)" if decision.duplicate else ""
                print(f"line {line.line}: rejected{again}, {decision.code}: {decision.message}")
            elif decision.duplicate:
                counts["repeated"] += 1
            else:
                counts["accepted"] += 1
    print(", ".join(f"{count} {what}" for what, count in counts.items()))
    return 0


def _chunks(lines: Iterator[ReportLine], size: int) -> Iterator[list[ReportLine]]:
    while chunk := list(islice(lines, size)):
        yield chunk


def _mint(settings: OracleSettings, args: argparse.Namespace) -> int:
    contracts = _contracts(settings)
    store = _store(settings)
    if args.dry_run:
        return _dry_run(settings, contracts, store, flush=args.all)
    if settings.private_key is None:
        raise CommandError("minting needs the oracle account's key in ORACLE_PRIVATE_KEY (or try --dry-run)")
    sender = Sender(contracts.w3, _account(settings.private_key.get_secret_value()))
    minter = Minter(store, contracts, sender, settings.batch_policy(), settings.lease_seconds)
    while True:
        try:
            minted = minter.run(flush=args.all)
        except (MinterBusy, MintingBlocked) as exc:
            minted = exc.minted if isinstance(exc, MintingBlocked) else []
            _print_minted(minted)
            if args.every is None:
                raise CommandError(str(exc)) from None
            log.warning("%s; trying again in %s s", exc, args.every)
        else:
            _print_minted(minted)
            if not minted and args.every is None:
                print(
                    "nothing was minted: no claim pends" + ("" if args.all else " that is due (--all mints them all)")
                )
        if args.every is None:
            return 0
        time.sleep(args.every)


def _print_minted(minted: list[MintResult]) -> None:
    for result in minted:
        print(
            f"minted {format_kg(result.grams)} kg for {result.claims} device-days of {day_label(result.day)} "
            f"in {result.tx_hash} (on-chain batch {result.chain_batch_id}, {result.gas_used:,} gas)",
            flush=True,
        )


def _account(key: str) -> LocalAccount:
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise CommandError("ORACLE_PRIVATE_KEY is not a 32-byte hex private key") from None


def _dry_run(settings: OracleSettings, contracts: CreditContracts, store: OracleStore, *, flush: bool) -> int:
    """Every batch a run would send, checked against the token with a static call from the oracle
    account when its address is known; nothing is written and no key is needed."""
    account = settings.account
    if account is None and settings.private_key is not None:
        account = _account(settings.private_key.get_secret_value()).address
    batches = 0
    try:
        for item in BatchPlanner(store, contracts, settings.batch_policy()).dry_run(flush=flush):
            if not isinstance(item, PlannedBatch):
                for claim in item.claims:
                    print(f"would hold {claim.device} on {day_label(claim.day)}: {item.revert}")
                continue
            batches += 1
            verdict = "not checked (set ORACLE_ACCOUNT to check it against the token)"
            if account is not None:
                refusal = simulate_mint(contracts, account, item)
                verdict = "the token accepts it" if refusal is None else f"the token refuses it: {refusal}"
            print(
                f"batch of {len(item.claims)} credits, {format_kg(item.grams)} kg, methodology v{item.methodology_id}, "
                f"{day_label(item.day)}, evidence root 0x{item.tree.root.hex()}: {verdict}"
            )
    except MintingBlocked as exc:
        raise CommandError(str(exc)) from None
    if batches == 0:
        print("no claim pends" if flush else "nothing is due (--all shows every pending claim)")
    return 0


def _explain(settings: OracleSettings, args: argparse.Namespace) -> int:
    last = args.last or datetime.now(UTC).date() - timedelta(days=1)
    try:
        first = args.first or last - timedelta(days=29)
    except OverflowError:
        raise CommandError(f"--to {last} leaves no room for the default 30 days: give --from too") from None
    try:
        explanation = explain(_store(settings), args.device, day_number(first), day_number(last))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        from oracle.schemas import DeviceDaysOut

        print(DeviceDaysOut.of(explanation).model_dump_json(indent=2))
    else:
        print(describe(explanation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
