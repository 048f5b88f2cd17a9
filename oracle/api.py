"""The oracle's HTTP API: devices (or their gateways) post signed daily reports here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from oracle.errors import DayConflict
from oracle.schemas import DecisionOut, SignedReportIn
from oracle.service import Decision, Oracle
from oracle.store import ReportStatus


def create_app(oracle: Oracle) -> FastAPI:
    app = FastAPI(
        title="Green Travel Credits oracle",
        version="1",
        description="Verifies EIP-712 signed daily device reports and records what they earn.",
    )

    @app.post(
        "/v1/reports",
        status_code=201,
        responses={
            200: {"description": "This exact report was accepted before; nothing new was stored"},
            409: {"description": "Rejected: another report for this device-day was already accepted"},
            422: {"description": "Rejected (stored, with its reason code), or not a report at all"},
        },
    )
    def submit_report(body: SignedReportIn, response: Response) -> DecisionOut:
        """Verify a signed report and store the decision. Every report that parses is stored, accepted
        or rejected; a rejection answers with its stable code and a message."""
        decision = oracle.ingest(body.to_signed())
        if decision.duplicate:
            response.status_code = 200
        elif decision.status is ReportStatus.REJECTED:
            response.status_code = 409 if decision.code == DayConflict.code else 422
        return DecisionOut.of(decision)

    @app.get("/v1/reports/{digest}")
    def read_report(digest: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]) -> list[DecisionOut]:
        """Every decision taken on the report with this EIP-712 digest, oldest first."""
        return [DecisionOut.of(Decision.of(record)) for record in oracle.store.reports(digest=digest.lower())]

    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    return app


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    fields: list[dict[str, Any]] = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": str(error["msg"])} for error in exc.errors()
    ]
    message = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    return JSONResponse(
        status_code=422, content={"error": {"code": "INVALID_REQUEST", "message": message, "fields": fields}}
    )
