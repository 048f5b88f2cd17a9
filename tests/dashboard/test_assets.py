"""The dashboard's files, without a browser: served offline from the backend, Chart.js as npm installed it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from backend.api import create_app
from backend.db import Database
from backend.deps import ApiOptions
from backend.routes.dashboard import DASHBOARD_DIR
from contracts.client import CreditContracts
from scripts.serve import serving

ROOT = Path(__file__).resolve().parents[2]


def test_the_charting_library_served_is_the_one_npm_installed() -> None:
    installed = ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
    if not installed.exists():
        pytest.skip("node_modules/chart.js is not installed (npm ci), so the served copy cannot be compared")
    vendored = DASHBOARD_DIR / "vendor" / "chart.umd.min.js"
    assert vendored.read_bytes() == installed.read_bytes(), "run `make dashboard` after changing chart.js's version"


def test_pages_load_nothing_from_another_origin() -> None:
    for page in DASHBOARD_DIR.glob("*.html"):
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.read_text())
        assert sources and all("//" not in source for source in sources), (page.name, sources)


def test_the_backend_serves_the_pages_and_what_they_need_to_know(contracts: CreditContracts, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")
    db.migrate()
    app = create_app(db, contracts, ApiOptions(oracle_url="http://oracle.example:8600"))
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/").headers["location"] == "/app/"
        for path in ("/app/", "/app/driver.html", "/app/buyer.html", "/app/common.js", "/app/vendor/chart.umd.min.js"):
            assert client.get(path).status_code == 200, path
        assert "javascript" in client.get("/app/common.js").headers["content-type"]
        assert client.get("/app/config.json").json() == {
            "chainId": contracts.deployment.chain_id,
            "token": contracts.deployment.token,
            "market": contracts.deployment.market,
            "oracleUrl": "http://oracle.example:8600",
        }
        assert client.get("/app/nothing.html").status_code == 404
