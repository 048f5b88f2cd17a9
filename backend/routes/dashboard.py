from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from backend.deps import Chain, Options

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
"""The dashboard's pages and scripts, and Chart.js as installed from npm (vendor/, see `make dashboard`)."""

router = APIRouter(include_in_schema=False)


@router.get("/")
def read_root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app/config.json")
def read_dashboard_config(chain: Chain, options: Options) -> dict[str, object]:
    """What the pages need beyond the API: the chain a wallet must be on, and where the oracle answers."""
    deployment = chain.deployment
    return {
        "chainId": deployment.chain_id,
        "token": deployment.token,
        "market": deployment.market,
        "oracleUrl": options.oracle_url,
    }


def mount_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/app", StaticFiles(directory=DASHBOARD_DIR, html=True), name="dashboard")
