"""A local chain for development: an eth-tester (py-evm) chain served over HTTP JSON-RPC.

Wallets, ethers.js, web3.py and the project's own processes reach it like any node: single and batch
requests, `eth_chainId`, `eth_sendRawTransaction`, `eth_call`, `eth_estimateGas`, `eth_getLogs`, blocks,
receipts, fees. Reverts come back as a node reports them (code 3, the revert data), so clients decode
custom errors. Every transaction is mined at once into its own block.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hexbytes import HexBytes
from web3 import Web3

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
SERVER_ERROR = -32000


def json_rpc_value(value: Any) -> Any:
    """web3's Python values back into JSON-RPC's: integers as hex quantities, bytes as hex data."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return HexBytes(value).to_0x_hex()
    if isinstance(value, Mapping):
        return {key: json_rpc_value(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [json_rpc_value(item) for item in value]
    return str(value)


class JsonRpc:
    """Answers JSON-RPC requests from an in-process chain, through web3's eth-tester adapters."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._request = w3.provider.request_func(w3, w3.middleware_onion)

    def answer(self, payload: Any) -> Any:
        if isinstance(payload, list):
            if not payload:
                return _error(None, INVALID_REQUEST, "empty batch")
            return [self._one(item) for item in payload]
        return self._one(payload)

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_REQUEST, "a request is an object with a method")
        request_id = request.get("id")
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(request_id, INVALID_REQUEST, "params must be an array")
        try:
            response = self._request(request["method"], params)
        except Exception as exc:  # any failure of the chain is answered, never a crash of the server
            log.info("%s failed: %s", request["method"], exc)
            return _error(request_id, SERVER_ERROR, str(exc) or type(exc).__name__)
        error = response.get("error")
        if error is not None:
            if isinstance(error, dict):
                code = error.get("code", SERVER_ERROR)
                if "Unknown RPC Endpoint" in str(error.get("message", "")):
                    code = METHOD_NOT_FOUND
                return {"jsonrpc": "2.0", "id": request_id, "error": error | {"code": code}}
            return _error(request_id, SERVER_ERROR, str(error))
        return {"jsonrpc": "2.0", "id": request_id, "result": json_rpc_value(response.get("result"))}


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def create_app(w3: Web3) -> FastAPI:
    rpc = JsonRpc(w3)
    app = FastAPI(title="Green Travel Credits devnet", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/")
    async def json_rpc(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse(_error(None, PARSE_ERROR, "the body is not JSON"))
        return JSONResponse(rpc.answer(payload))

    return app
