"""The backend's configuration, from the environment (BACKEND_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackendSettings(BaseSettings):
    """Where the backend finds the chain, the deployment and its database, and how it reads the chain."""

    model_config = SettingsConfigDict(env_prefix="BACKEND_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("var/devnet/deployment.json")
    database_url: str = "sqlite:///var/backend.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=1, le=65_535)
    range_blocks: int = Field(default=2_000, ge=1, description="blocks per eth_getLogs request")
    index_every_seconds: float = Field(default=2.0, gt=0, description="how often `backend serve` catches up")
