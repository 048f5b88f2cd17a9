"""The oracle's configuration, from the environment (ORACLE_*)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from contracts.addresses import parse_address
from oracle import methodology
from oracle.batching import DEFAULT_BATCH_SIZE, BatchPolicy
from oracle.minter import LEASE_SECONDS
from oracle.validation import Limits

_DEFAULTS = Limits()
_PRIVATE_KEY = re.compile(r"0x[0-9a-fA-F]{64}")


class OracleSettings(BaseSettings):
    """Where the oracle finds the chain and its store, and what an operator tunes: plausibility, the
    age of reports, batching, the methodologies."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("var/devnet/deployment.json")
    database_url: str = "sqlite:///var/oracle.db"
    private_key: SecretStr | None = None
    """The oracle account's key; without it the oracle verifies and plans mints but sends nothing."""
    account: str | None = None
    """The oracle account's address, for a dry run without its key."""
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65_535)

    methodologies: Annotated[list[int], NoDecode] = [2, 1]
    """Methodology ids in order of preference: a report is assessed by the first that covers its vehicle
    class (v2 for electric cars' distance, v1 for car-free petrol days)."""
    max_report_age_days: int = Field(default=_DEFAULTS.max_report_age_days, ge=1)
    max_distance_per_day_m: int = Field(default=_DEFAULTS.max_distance_per_day_m, ge=1)
    odometer_tolerance_m: int = Field(default=_DEFAULTS.odometer_tolerance_m, ge=0)
    min_ev_wh_per_km: int = Field(default=_DEFAULTS.min_ev_wh_per_km, ge=0)
    max_ev_wh_per_km: int = Field(default=_DEFAULTS.max_ev_wh_per_km, ge=1)
    max_average_speed_kmh: int = Field(default=_DEFAULTS.max_average_speed_kmh, ge=1)
    clock_skew_seconds: int = Field(default=_DEFAULTS.clock_skew_seconds, ge=0, le=3_600)
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=2_000)
    batch_max_age_seconds: int = Field(default=3_600, ge=0)
    """A day's claims are minted once there are batch_size of them or the oldest has waited this long."""
    lease_seconds: int = Field(default=LEASE_SECONDS, ge=1, le=3_600)
    """How long a minter that stopped answering keeps others from minting (after a crash, the wait)."""

    @field_validator("methodologies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("methodologies")
    @classmethod
    def _published(cls, ids: list[int]) -> list[int]:
        if not ids:
            raise ValueError("name at least one methodology")
        published = sorted(int(path.stem[1:]) for path in methodology.METHODOLOGY_DIR.glob("v*.json"))
        unknown = [methodology_id for methodology_id in ids if methodology_id not in published]
        if unknown:
            raise ValueError(f"no methodology {unknown[0]} is published (published: {published})")
        return ids

    @field_validator("account")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else parse_address(value)

    @field_validator("private_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _PRIVATE_KEY.fullmatch(value.get_secret_value()):
            raise ValueError("must be a 32-byte private key in hex, 0x and 64 digits")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("must be an SQLAlchemy database URL, e.g. sqlite:///var/oracle.db") from None
        return value

    def batch_policy(self) -> BatchPolicy:
        return BatchPolicy(size=self.batch_size, max_age=timedelta(seconds=self.batch_max_age_seconds))

    def load_methodologies(self) -> list[methodology.Methodology]:
        return [methodology.load(methodology_id) for methodology_id in self.methodologies]

    def limits(self) -> Limits:
        return Limits(
            max_report_age_days=self.max_report_age_days,
            max_distance_per_day_m=self.max_distance_per_day_m,
            odometer_tolerance_m=self.odometer_tolerance_m,
            min_ev_wh_per_km=self.min_ev_wh_per_km,
            max_ev_wh_per_km=self.max_ev_wh_per_km,
            max_average_speed_kmh=self.max_average_speed_kmh,
            clock_skew_seconds=self.clock_skew_seconds,
        )
