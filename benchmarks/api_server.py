"""A server for benchmarks/api_load.py: the backend's API on an index, or a bare FastAPI endpoint,
served alike by uvicorn in this process.

python -m benchmarks.api_server backend|bare PORT DATABASE DEPLOYMENT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from backend.api import create_app
from backend.db import Database
from contracts.chain import TESTER, connect
from contracts.client import CreditContracts, Deployment


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict[str, str]:
        return {"grams": "1750", "kg": "1.750"}

    return app


def main(argv: list[str]) -> int:
    kind, port, database, deployment = argv
    if kind == "bare":
        app = bare_app()
    else:
        # The balance read never reaches the chain (only /health would): an empty eth-tester chain of the
        # same chain id stands in for the fleet's, which lived in the benchmark's process.
        contracts = CreditContracts(connect(TESTER), Deployment.load(Path(deployment)))
        app = create_app(Database(f"sqlite:///{database}"), contracts)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
