"""The backend's configuration, from the environment (BACKEND_*)."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackendSettings(BaseSettings):
    """Where the backend finds the chain, the deployment and its database, and how it reads the chain."""

    model_config = SettingsConfigDict(env_prefix="BACKEND_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("var/devnet/deployment.json")
    database_url: str = "sqlite:///var/backend.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=1, le=65_535)
    range_blocks: int = Field(default=2_000, ge=1, description="the widest eth_getLogs range asked for")
    confirmations: int = Field(default=0, ge=0, description="blocks a block must have on top before it is indexed")
    index_every_seconds: float = Field(default=2.0, gt=0, description="how often `backend serve` catches up")
    ready_max_lag_blocks: int = Field(default=10, ge=0, description="/ready answers 503 beyond this lag")
    max_listings_per_order: int = Field(default=500, ge=1, description="listings one prepared order may fill")
    oracle_url: str = Field(
        default="http://127.0.0.1:8600", description="the oracle's API, which the dashboard's driver page asks"
    )
    relayer_private_key: SecretStr | None = Field(
        default=None, description="the account that pays the gas of permit transfers it relays (its own key)"
    )

    @field_validator("relayer_private_key")
    @classmethod
    def _a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                Account.from_key(value.get_secret_value())
            except (ValueError, TypeError):
                raise ValueError("not a 32-byte hex private key") from None
        return value
