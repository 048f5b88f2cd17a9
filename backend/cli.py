"""`backend`: index a deployment and serve the read API (see BACKEND_* in the README).

backend index [--every S]    catch up with the chain into the database, once (showing progress) or repeatedly
backend serve                the HTTP API on BACKEND_HOST:BACKEND_PORT, catching up in the background
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from pydantic import ValidationError

from backend.db import Database, SchemaError
from backend.deps import ApiOptions
from backend.indexer import Indexer, Progress, SyncResult
from backend.relay import Relayer
from backend.settings import BackendSettings
from contracts.chain import Sender, connect
from contracts.client import CreditContracts, Deployment
from contracts.environment import setting_errors

log = logging.getLogger("backend")


class CommandError(Exception):
    """What stops a command, in words for the operator; exit status 1."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backend", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every range indexed")
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="catch up with the chain into the database")
    index.add_argument("--every", type=float, metavar="SECONDS", help="catch up again after this many seconds, forever")
    index.set_defaults(run=_index)
    serve = commands.add_parser("serve", help="serve the API and keep the index caught up")
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = BackendSettings()
    except ValidationError as exc:
        for line in setting_errors(exc, "BACKEND_"):
            print(f"backend: {line}", file=sys.stderr)
        return 2
    try:
        return int(args.run(settings, args) or 0)
    except CommandError as exc:
        print(f"backend: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def wiring(settings: BackendSettings) -> tuple[CreditContracts, Database, Indexer]:
    """The deployment on the node, the database (tables created) and an indexer over both."""
    if not settings.deployment.exists():
        raise CommandError(
            f"no deployment at {settings.deployment}: start a chain with `gtc devnet`, or set BACKEND_DEPLOYMENT"
        )
    w3 = connect(settings.rpc_url)
    if not w3.is_connected():
        raise CommandError(f"no node answers at {settings.rpc_url} (BACKEND_RPC_URL)")
    deployment = Deployment.load(settings.deployment)
    if deployment.chain_id != w3.eth.chain_id:
        raise CommandError(
            f"{settings.deployment} is for chain {deployment.chain_id}, not the node's {w3.eth.chain_id}"
        )
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        db.migrate()
    except SchemaError as exc:
        raise CommandError(str(exc)) from None
    indexer = Indexer(w3, deployment, db, range_blocks=settings.range_blocks, confirmations=settings.confirmations)
    return CreditContracts(w3, deployment), db, indexer


def _sync(indexer: Indexer, progress: Callable[[Progress], None] | None = None) -> SyncResult:
    try:
        return indexer.sync(progress)
    except RuntimeError as exc:  # a database that indexes another deployment
        raise CommandError(str(exc)) from None


class ProgressLine:
    """Prints where a long catch-up stands, at most every `every_seconds`."""

    def __init__(self, every_seconds: float = 2.0) -> None:
        self.every_seconds = every_seconds
        self._started = self._shown = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._shown < self.every_seconds:
            return
        self._shown = now
        print(
            f"  indexed to block {progress.indexed_block:,} of {progress.target_block:,}, "
            f"{progress.events:,} events in {now - self._started:.0f} s",
            flush=True,
        )


def _index(settings: BackendSettings, args: argparse.Namespace) -> int:
    _contracts, _db, indexer = wiring(settings)
    while True:
        result = _sync(indexer, ProgressLine())
        reorgs = f", {result.reorgs} reorg(s) rolled back" if result.reorgs else ""
        print(f"indexed blocks {result.from_block}..{result.to_block}: {result.events} events{reorgs}", flush=True)
        if args.every is None:
            return 0
        time.sleep(args.every)


def _serve(settings: BackendSettings, _args: argparse.Namespace) -> int:
    import uvicorn

    from backend.api import create_app

    contracts, db, indexer = wiring(settings)
    _sync(indexer, ProgressLine())
    relayer = None
    if settings.relayer_private_key is not None:
        relayer = Relayer(Sender(contracts.w3, Account.from_key(settings.relayer_private_key.get_secret_value())))
    options = ApiOptions(
        max_listings_per_order=settings.max_listings_per_order,
        confirmations=settings.confirmations,
        ready_max_lag_blocks=settings.ready_max_lag_blocks,
        relayer=relayer,
        oracle_url=settings.oracle_url,
    )
    stop = threading.Event()
    thread = threading.Thread(target=keep_indexing, args=(indexer, settings.index_every_seconds, stop), daemon=True)
    thread.start()
    url = f"http://{settings.host}:{settings.port}"
    print(f"backend: serving on {url} (docs at /docs, the dashboard at {url}/app/)", flush=True)
    try:
        uvicorn.run(create_app(db, contracts, options), host=settings.host, port=settings.port, log_level="warning")
    finally:
        stop.set()
    return 0


def keep_indexing(indexer: Indexer, every_seconds: float, stop: threading.Event) -> None:
    """Catch up every `every_seconds` until `stop`; a failed round is logged and tried again."""
    while not stop.wait(every_seconds):
        try:
            indexer.sync()
        except Exception as exc:  # a node that stopped answering must not end the API; the next round retries
            log.warning("indexing failed (%s: %s); trying again in %s s", type(exc).__name__, exc, every_seconds)


if __name__ == "__main__":
    sys.exit(main())
