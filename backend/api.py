"""The backend's HTTP API (OpenAPI at /docs). Errors are JSON: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from web3.exceptions import ProviderConnectionError

from backend.db import Database
from backend.deps import ApiOptions
from backend.errors import Refused
from backend.routes import accounts, devices, market, relay, retirements, stats
from backend.routes.dashboard import mount_dashboard
from contracts.client import CreditContracts
from contracts.events import EventDecoder

logger = logging.getLogger(__name__)


def create_app(db: Database, contracts: CreditContracts, options: ApiOptions | None = None) -> FastAPI:
    app = FastAPI(
        title="Green Travel Credits",
        version="1",
        description=(
            "Balances, devices, listings and retirements of the credit registry, as indexed from the chain; "
            "quotes and ready-to-sign orders for buyers, and a relay for what users signed themselves. "
            "Amounts are strings of integers (grams, or wei) with a kg string beside."
        ),
        redirect_slashes=False,
    )
    app.state.db = db
    app.state.contracts = contracts
    app.state.options = options or ApiOptions()
    app.state.decoder = EventDecoder(contracts.deployment)
    for module in (accounts, devices, market, relay, retirements, stats):
        app.include_router(module.router)
    mount_dashboard(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Refused, _refused)  # type: ignore[arg-type]
    for unreachable in NODE_UNREACHABLE:
        app.add_exception_handler(unreachable, _node_unreachable)
    app.add_exception_handler(Exception, _internal_error)
    return app


NODE_UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ProviderConnectionError)


async def _node_unreachable(_request: Request, exc: Exception) -> JSONResponse:
    message = f"the node does not answer ({type(exc).__name__}); try again later"
    return JSONResponse(status_code=503, content={"error": {"code": "NODE_UNAVAILABLE", "message": message}})


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    message = f"the server failed ({type(exc).__name__}); its log has the details"
    return JSONResponse(status_code=500, content={"error": {"code": "INTERNAL_ERROR", "message": message}})


async def _refused(_request: Request, exc: Refused) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"error": exc.body()})


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": _message(error)} for error in exc.errors()
    ]
    message = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    return JSONResponse(
        status_code=422, content={"error": {"code": "INVALID_REQUEST", "message": message, "fields": fields}}
    )


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc.detail, dict):
        error = exc.detail
    else:
        error = {"code": "HTTP_" + str(exc.status_code), "message": str(exc.detail)}
    return JSONResponse(status_code=exc.status_code, content={"error": error})


def _message(error: dict[str, Any]) -> str:
    return str(error["msg"]).removeprefix("Value error, ")
