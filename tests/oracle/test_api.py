"""The oracle's ingest endpoint, over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oracle.api import create_app
from oracle.device import DeviceSigner
from oracle.report import ReportDomain
from oracle.service import Oracle
from oracle.store import OracleStore
from scripts.serve import serving
from tests.helpers import with_wrong_checksum
from tests.oracle.conftest import daily


@pytest.fixture
def api(oracle: Oracle) -> Iterator[httpx.Client]:
    with serving(create_app(oracle)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def body(ev_device: DeviceSigner, domain: ReportDomain) -> dict[str, Any]:
    return ev_device.sign(daily(ev_device), domain).to_json()


def test_an_accepted_report_answers_201_with_the_decision(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post("/v1/reports", json=body)
    assert response.status_code == 201
    decision = response.json()
    assert (decision["status"], decision["code"], decision["grams"], decision["kg"]) == (
        "accepted",
        "ACCEPTED",
        "1750",
        "1.750",
    )
    assert decision["duplicate"] is False
    assert api.get(f"/v1/reports/{decision['digest']}").json() == [decision]


def test_the_same_report_again_answers_200_and_stores_nothing(
    api: httpx.Client, body: dict[str, Any], store: OracleStore
) -> None:
    first = api.post("/v1/reports", json=body).json()
    again = api.post("/v1/reports", json=body)
    assert again.status_code == 200
    assert again.json() | {"duplicate": False} == first
    assert len(store.reports()) == 1


def test_a_rejected_report_answers_422_with_its_code_and_is_stored(
    api: httpx.Client, body: dict[str, Any], store: OracleStore
) -> None:
    body["report"]["distanceM"] += 1  # altered after signing
    response = api.post("/v1/reports", json=body)
    assert response.status_code == 422
    assert (response.json()["status"], response.json()["code"]) == ("rejected", "SIGNER_MISMATCH")
    assert [r.code for r in store.reports()] == ["SIGNER_MISMATCH"]


def test_a_conflicting_report_answers_409(
    api: httpx.Client, body: dict[str, Any], ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    api.post("/v1/reports", json=body)
    other = ev_device.sign(daily(ev_device, distance_m=41_000, energy_wh=4_100), domain).to_json()
    response = api.post("/v1/reports", json=other)
    assert (response.status_code, response.json()["code"]) == (409, "DAY_CONFLICT")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["report"].update(day=19999.0), "body.report.day"),
        (lambda b: b["report"].update(distanceM="40000"), "body.report.distanceM"),
        (lambda b: b["report"].update(energyWh=True), "body.report.energyWh"),
        (lambda b: b["report"].update(fuelMl=-1), "body.report.fuelMl"),
        (lambda b: b["report"].update(sequence=2**63), "body.report.sequence"),
        (lambda b: b["report"].pop("odometerEndM"), "body.report.odometerEndM"),
        (lambda b: b["report"].update(traceHash="0x1234"), "body.report.traceHash"),
        (lambda b: b["report"].update(extra=1), "body.report.extra"),
        (lambda b: b.update(signature="not hex"), "body.signature"),
        (lambda b: b["report"].update(device=with_wrong_checksum(b["report"]["device"])), "body.report.device"),
    ],
    ids=[
        "float",
        "string-number",
        "boolean",
        "negative",
        "above-int64",
        "missing",
        "short-hash",
        "unknown-field",
        "signature-not-hex",
        "bad-checksum",
    ],
)
def test_a_request_that_is_not_a_report_answers_422_with_the_field_and_stores_nothing(
    api: httpx.Client,
    body: dict[str, Any],
    store: OracleStore,
    change,
    field: str,
) -> None:
    change(body)
    response = api.post("/v1/reports", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert field in [f["field"] for f in error["fields"]]
    assert store.reports() == []


def test_a_lower_case_device_address_is_accepted_and_checksummed(api: httpx.Client, body: dict[str, Any]) -> None:
    body["report"]["device"] = body["report"]["device"].lower()
    assert api.post("/v1/reports", json=body).status_code == 201


def test_reading_a_report_needs_a_digest(api: httpx.Client) -> None:
    assert api.get("/v1/reports/0x1234").status_code == 422
    assert api.get("/v1/reports/0x" + "ab" * 32).json()["error"]["code"] == "REPORT_NOT_FOUND"


def test_a_body_over_8_kib_is_refused_unread(api: httpx.Client, store: OracleStore) -> None:
    nested = '{"report":' + "[" * 70_000 + "]" * 70_000 + "}"  # would exhaust the parser's C stack
    response = api.post("/v1/reports", content=nested, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    streamed = api.post("/v1/reports", content=iter([b'{"report":', b" " * 9_000, b"}"]))
    assert (streamed.status_code, streamed.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert store.reports() == []


def test_every_error_has_a_code_and_a_message(api: httpx.Client) -> None:
    for response in (
        api.get("/v1/nothing"),
        api.delete("/v1/reports"),
        api.post("/v1/reports", content="1" * 5_000, headers={"content-type": "application/json"}),
        api.post("/v1/reports", content="{", headers={"content-type": "application/json"}),
        api.get("/v1/reports/0x" + "ab" * 32),
    ):
        error = response.json()["error"]
        assert response.status_code in (400, 404, 405, 422) and error["code"] and error["message"]
