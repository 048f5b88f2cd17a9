"""A JSON-RPC node over real HTTP in front of the tests' in-process chain, as particular as public nodes
are: it can refuse wide `eth_getLogs` ranges with a provider's own error, lag behind the chain, or answer
with logs of neighbouring blocks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from web3 import Web3

from scripts.devnet import JsonRpc
from scripts.serve import serving

RANGE_ERRORS = {
    "infura": (-32005, "query returned more than 10000 results"),
    "alchemy": (-32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"),
    "geth": (-32000, "exceed maximum block range: 5"),
}
"""How some well-known providers refuse an `eth_getLogs` range or result that is too large."""


@dataclass
class ParticularNode:
    w3: Web3
    max_range: int | None = None
    """The widest `eth_getLogs` range answered (blocks); wider ones get `error`."""
    error: tuple[int, str] = RANGE_ERRORS["infura"]
    lag: int = 0
    """Blocks this node has not seen yet: it reports a head this much older and knows no newer block."""
    sloppy: bool = False
    """Answer `eth_getLogs` with the logs of one block more on each side."""
    served: list[tuple[int, int]] = field(default_factory=list)
    """The `eth_getLogs` ranges answered, as asked."""
    refused: int = 0

    def __post_init__(self) -> None:
        self._rpc = JsonRpc(self.w3)

    @property
    def head(self) -> int:
        return self.w3.eth.block_number - self.lag

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request.get("method"), request.get("params") or []
        if method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": hex(self.head)}
        unseen = method == "eth_getBlockByNumber" and str(params[0]).startswith("0x") and int(params[0], 16) > self.head
        if unseen:
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": None}
        if method == "eth_getLogs":
            query = dict(params[0])
            start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
            if self.max_range is not None and end - start + 1 > self.max_range:
                self.refused += 1
                code, message = self.error
                return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": code, "message": message}}
            self.served.append((start, end))
            if self.sloppy:
                query |= {"fromBlock": hex(max(0, start - 1)), "toBlock": hex(min(self.head, end + 1))}
            request = request | {"params": [query]}
        return self._rpc.answer(request)


@contextmanager
def node_serving(node: ParticularNode) -> Iterator[Web3]:
    """web3 over HTTP to `node`."""
    app = FastAPI()

    @app.post("/")
    async def json_rpc(request: Request) -> JSONResponse:
        payload = await request.json()
        if isinstance(payload, list):
            return JSONResponse([node.answer(item) for item in payload])
        return JSONResponse(node.answer(payload))

    with serving(app) as url:
        yield Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
