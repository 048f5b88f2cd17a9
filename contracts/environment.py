"""Settings from the environment, as the oracle, the backend and the scripts read them."""

from __future__ import annotations

from pydantic import ValidationError

SECRET_FIELDS = {"private_key", "relayer_private_key"}


def setting_errors(exc: ValidationError, prefix: str) -> list[str]:
    """One line per invalid variable, named as it is set (ORACLE_PORT='abc': …); secrets are not echoed."""
    lines = []
    for error in exc.errors():
        name = "_".join(map(str, error["loc"]))
        shown = "(hidden)" if name in SECRET_FIELDS else repr(error.get("input"))
        lines.append(f"{prefix}{name.upper()}={shown}: {error['msg']}")
    return lines
