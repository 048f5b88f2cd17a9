"""What the backend refuses, as a code and a sentence; the API answers each as {"error": {...}} with its
HTTP status. Raised by the purchase and relay logic, which know nothing of HTTP."""

from __future__ import annotations

from typing import Any

from web3.exceptions import Web3RPCError

from contracts.chain import ContractRevert


class Refused(Exception):
    """A request the backend will not carry out."""

    status = 409

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class Invalid(Refused):
    """The request itself is wrong, whatever the chain's state."""

    status = 422


class NotFound(Refused):
    status = 404


class Unavailable(Refused):
    """Something the request needs is not there now (the node, the relayer); trying later may work."""

    status = 503


def chain_refused(what: str, revert: ContractRevert) -> Refused:
    """The contracts would revert `what`: named by their custom error, with its arguments."""
    args = {key: str(value) if isinstance(value, int) else value for key, value in revert.args_by_name.items()}
    return Refused(
        "CHAIN_REFUSED",
        f"{what} would revert on chain with {revert}",
        revert={"error": revert.name, "args": args},
    )


def node_refused(what: str, exc: Web3RPCError) -> Refused:
    """The node answered `what` with an error of its own (not a revert): named with the node's words."""
    return Refused("NODE_REFUSED", f"the node refuses {what}: {rpc_message(exc)}")


def rpc_message(exc: Web3RPCError) -> str:
    error = (exc.rpc_response or {}).get("error")
    return str(error.get("message")) if isinstance(error, dict) else str(exc)
