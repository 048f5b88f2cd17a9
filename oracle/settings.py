"""The oracle's configuration, from the environment (ORACLE_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oracle.minter import DEFAULT_BATCH_SIZE
from oracle.validation import Limits

_DEFAULTS = Limits()


class OracleSettings(BaseSettings):
    """What an operator tunes: how old a report may be, what is plausible, how large a mint batch is."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_", extra="ignore")

    max_report_age_days: int = Field(default=_DEFAULTS.max_report_age_days, ge=1)
    max_distance_per_day_m: int = Field(default=_DEFAULTS.max_distance_per_day_m, ge=1)
    odometer_tolerance_m: int = Field(default=_DEFAULTS.odometer_tolerance_m, ge=0)
    min_ev_wh_per_km: int = Field(default=_DEFAULTS.min_ev_wh_per_km, ge=0)
    max_ev_wh_per_km: int = Field(default=_DEFAULTS.max_ev_wh_per_km, ge=1)
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=2_000)

    def limits(self) -> Limits:
        return Limits(
            max_report_age_days=self.max_report_age_days,
            max_distance_per_day_m=self.max_distance_per_day_m,
            odometer_tolerance_m=self.odometer_tolerance_m,
            min_ev_wh_per_km=self.min_ev_wh_per_km,
            max_ev_wh_per_km=self.max_ev_wh_per_km,
        )
