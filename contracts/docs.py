"""docs/CONTRACTS.md, the integrators' reference, rendered from the artifacts' ABI and NatSpec, so that it
is always what the deployed bytecode does. `gtc compile` writes it; a test fails when it is stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.artifacts import CONTRACT_NAMES, Artifact, abi_type, load_artifact

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "CONTRACTS.md"

INHERITED = {
    "AccessControl": "OpenZeppelin AccessControlDefaultAdminRules: roles, and a default admin transferred in two steps "
    "after a delay (`beginDefaultAdminTransfer`, `acceptDefaultAdminTransfer`), which cannot be renounced by mistake",
    "ERC20": "OpenZeppelin ERC20 and ERC20Permit (EIP-2612 `permit`, `nonces`, `DOMAIN_SEPARATOR`)",
    "Pausable": "OpenZeppelin Pausable (`paused`, events `Paused` and `Unpaused`)",
}
OWN_PREFIXES = ("DeviceRegistry", "CreditToken", "CreditMarket")
ENUMS = {
    "DeviceRegistry": "**Enums (uint8 in the ABI):** `VehicleClass` 1 battery-electric, 2 petrol (credited against the "
    "reference petrol car), 3 other; `DeviceStatus` 1 active, 2 suspended; 0 is never a valid value."
}


def render() -> str:
    parts = [
        "# Contracts reference",
        "",
        "Generated from the compiled artifacts (ABI and NatSpec) by `gtc compile`; do not edit by hand.",
        "Amounts are grams (the token has 3 decimals: 1 token = 1 kg CO2e), prices wei per kilogram,",
        "days UTC days since 1970-01-01. Every error carries the values that were wrong.",
    ]
    for name in CONTRACT_NAMES:
        parts += _contract(load_artifact(name))
    return "\n".join(parts).rstrip() + "\n"


def write(path: Path = DOCS_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())


def _contract(artifact: Artifact) -> list[str]:
    abi, user, dev = artifact.abi, artifact.userdoc, artifact.devdoc
    lines = ["", f"## {artifact.contract_name}", ""]
    if dev.get("title"):
        lines += [f"*{dev['title']}*", ""]
    if user.get("notice"):
        lines += [user["notice"], ""]
    if dev.get("details"):
        lines += [dev["details"], ""]
    roles = [item["name"] for item in abi if item["type"] == "function" and item["name"].endswith("_ROLE")]
    lines += ["**Roles:** " + ", ".join(f"`{role}`" for role in roles), ""]
    lines += ["**Built on:** " + "; ".join(text for key, text in INHERITED.items() if _inherits(abi, key)), ""]
    if artifact.contract_name in ENUMS:
        lines += [ENUMS[artifact.contract_name], ""]

    functions = [item for item in abi if item["type"] == "function" and _signature(item) in user.get("methods", {})]
    writes = [f for f in functions if f["stateMutability"] in ("nonpayable", "payable")]
    reads = [f for f in functions if f["stateMutability"] in ("view", "pure")]
    for title, items in (("Functions", writes), ("Views", reads)):
        lines += [f"### {title}", ""]
        for item in items:
            signature = _signature(item)
            payable = " *(payable)*" if item["stateMutability"] == "payable" else ""
            lines.append(f"- `{_call(item)}`{payable} — {user['methods'][signature]['notice']}")
            details = dev.get("methods", {}).get(signature, {}).get("details")
            if details:
                lines.append(f"  {details}")
        lines.append("")

    events = [item for item in abi if item["type"] == "event" and item["name"] not in _foreign_events()]
    lines += ["### Events", ""]
    for item in events:
        notice = user.get("events", {}).get(_signature(item), {}).get("notice", "")
        lines.append(f"- `{_call(item)}`" + (f" — {notice}" if notice else ""))
    errors = [item for item in abi if item["type"] == "error" and item["name"].startswith(OWN_PREFIXES)]
    lines += ["", "### Errors", ""]
    lines += [f"- `{_call(item)}`" for item in errors]
    return lines


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(abi_type(arg) for arg in item['inputs'])})"


def _call(item: dict[str, Any]) -> str:
    params = ", ".join(
        f"{abi_type(arg)}{' indexed' if arg.get('indexed') else ''} {arg['name']}".rstrip() for arg in item["inputs"]
    )
    returns = ""
    if item.get("outputs"):
        returns = " → " + ", ".join(
            abi_type(arg) + (f" {arg['name']}" if arg["name"] else "") for arg in item["outputs"]
        )
    return f"{item['name']}({params}){returns}"


def _inherits(abi: list[dict[str, Any]], key: str) -> bool:
    names = {item.get("name") for item in abi}
    return {"AccessControl": "grantRole", "ERC20": "transfer", "Pausable": "paused"}[key] in names


def _foreign_events() -> set[str]:
    """OpenZeppelin's own events, documented by OpenZeppelin."""
    return {
        "Approval",
        "Transfer",
        "RoleGranted",
        "RoleRevoked",
        "RoleAdminChanged",
        "DefaultAdminTransferScheduled",
        "DefaultAdminTransferCanceled",
        "DefaultAdminDelayChangeScheduled",
        "DefaultAdminDelayChangeCanceled",
        "EIP712DomainChanged",
        "Paused",
        "Unpaused",
    }
