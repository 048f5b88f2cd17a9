"""The backend's configuration, from the environment (BACKEND_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackendSettings(BaseSettings):
    """How the indexer reads the chain."""

    model_config = SettingsConfigDict(env_prefix="BACKEND_", extra="ignore")

    range_blocks: int = Field(default=2_000, ge=1, description="blocks per eth_getLogs request")
