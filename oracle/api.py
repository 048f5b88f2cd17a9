"""The oracle's HTTP API: devices (or their gateways) post signed daily reports here."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.addresses import Address
from contracts.client import day_number
from oracle.errors import DayConflict
from oracle.explain import explain
from oracle.schemas import DecisionOut, DeviceDaysOut, SignedReportIn
from oracle.service import Decision, Oracle
from oracle.store import ReportStatus

MAX_BODY_BYTES = 8 * 1024
"""A signed report is under 1 KiB of JSON. Refusing larger bodies before parsing them also keeps deeply
nested JSON away from the parser (py_ecc raises Python's recursion limit on import, so such input could
otherwise exhaust the C stack)."""
DEFAULT_SPAN_DAYS = 30


def create_app(oracle: Oracle) -> FastAPI:
    app = FastAPI(
        title="Green Travel Credits oracle",
        version="1",
        description="Verifies EIP-712 signed daily device reports and records what they earn.",
        redirect_slashes=False,
    )

    @app.post(
        "/v1/reports",
        status_code=201,
        responses={
            200: {"description": "This exact report was accepted before; nothing new was stored"},
            409: {"description": "Rejected: another report for this device-day was already accepted"},
            413: {"description": "Not read: the body is larger than 8 KiB"},
            422: {"description": "Rejected (stored, with its reason code), or not a report at all"},
        },
    )
    def submit_report(body: SignedReportIn, response: Response) -> DecisionOut:
        """Verify a signed report and store the decision. Every report that parses is stored, accepted
        or rejected; a rejection answers with its stable code and a message."""
        decision = oracle.ingest(body.to_signed())
        if decision.status is ReportStatus.REJECTED:
            response.status_code = 409 if decision.code == DayConflict.code else 422
        elif decision.duplicate:
            response.status_code = 200
        return DecisionOut.of(decision)

    @app.get("/v1/reports/{digest}", responses={404: {"description": "No report with this digest was received"}})
    def read_report(digest: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]) -> list[DecisionOut]:
        """Every decision taken on the report with this EIP-712 digest, oldest first."""
        records = oracle.store.reports(digest=digest.lower())
        if not records:
            raise HTTPException(404, detail={"code": "REPORT_NOT_FOUND", "message": f"no report {digest} was received"})
        return [DecisionOut.of(Decision.of(record)) for record in records]

    @app.get(
        "/v1/devices/{device}/days",
        responses={422: {"description": "Not an address, not a date, or a span of more than 366 days"}},
    )
    def explain_days(
        device: Annotated[Address, Path(description="the device's address")],
        start: Annotated[date | None, Query(alias="from", description="first UTC day (default: 30 days ago)")] = None,
        end: Annotated[date | None, Query(alias="to", description="last UTC day (default: yesterday)")] = None,
    ) -> DeviceDaysOut:
        """For each day the device reported: what it reported, what the oracle decided and why, the grams,
        and the mint transaction that paid them. Reports naming the device without its signature are
        counted, not listed."""
        last = end or oracle.clock().date() - timedelta(days=1)
        try:
            first = start or (last - timedelta(days=DEFAULT_SPAN_DAYS - 1))
            explanation = explain(oracle.store, device, day_number(first), day_number(last))
        except OverflowError:
            raise HTTPException(
                422, detail={"code": "INVALID_SPAN", "message": "the span starts before year 1"}
            ) from None
        except ValueError as exc:
            raise HTTPException(422, detail={"code": "INVALID_SPAN", "message": str(exc)}) from None
        return DeviceDaysOut.of(explanation)

    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    # The explanations are public; the dashboard's pages, served by the backend, read them from the browser.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])
    return app


class BodyLimit:
    """Answer 413 to a request body over `max_bytes`, whether it declares its length or streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = {
            "code": "PAYLOAD_TOO_LARGE",
            "message": f"the request body is over {self.max_bytes} bytes; a signed report is under 1 KiB",
        }
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await JSONResponse(status_code=413, content={"error": error})(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A body streamed without a length is counted as it arrives; the route's error handler
            # answers the HTTPException like any other.
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, detail=error)
            return message

        await self.app(scope, counted, send)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    fields: list[dict[str, Any]] = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": str(error["msg"])} for error in exc.errors()
    ]
    message = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    error = {"code": "INVALID_REQUEST", "message": message, "fields": fields}
    return JSONResponse(status_code=422, content={"error": error})


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    error: Any = exc.detail
    if not isinstance(error, dict):
        error = {"code": f"HTTP_{exc.status_code}", "message": str(exc.detail)}
    return JSONResponse(status_code=exc.status_code, content={"error": error})
