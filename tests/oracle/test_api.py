"""The oracle's ingest endpoint, over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.client import CreditContracts, day_label
from oracle.api import create_app
from oracle.batching import BatchPolicy
from oracle.device import DeviceSigner
from oracle.explain import describe, explain
from oracle.minter import Minter
from oracle.report import ReportDomain, SignedReport
from oracle.service import Oracle
from oracle.store import OracleStore
from scripts.serve import serving
from tests.conftest import TODAY, SenderFor
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
    again = api.post("/v1/reports", json=other)  # a replay is refused alike, and stored once
    assert (again.status_code, again.json()["code"], again.json()["duplicate"]) == (409, "DAY_CONFLICT", True)


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


def test_a_driver_sees_each_day_reported_decided_and_paid(
    api: httpx.Client,
    oracle: Oracle,
    store: OracleStore,
    contracts: CreditContracts,
    sender: SenderFor,
    ev_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    paid = oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 3, sequence=1), domain))
    (minted,) = Minter(store, contracts, sender("oracle"), BatchPolicy(size=10)).run()
    too_far = daily(ev_device, day=TODAY - 2, sequence=2, start_m=40_000, distance_m=9_000_000)
    assert oracle.ingest(ev_device.sign(too_far, domain)).code == "DISTANCE_IMPLAUSIBLE"
    pending = oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 2, sequence=3, start_m=40_000), domain))
    out_of_order = daily(ev_device, day=TODAY - 1, sequence=3, start_m=80_000)
    assert oracle.ingest(ev_device.sign(out_of_order, domain)).code == "SEQUENCE_NOT_INCREASING"
    forged = ev_device.sign(daily(ev_device, day=TODAY - 1, sequence=9, start_m=80_000), domain)
    oracle.ingest(SignedReport(forged.report.replace(distance_m=80_000), forged.signature))

    response = api.get(f"/v1/devices/{ev_device.address.lower()}/days", params={"from": day_label(TODAY - 7)})
    assert response.status_code == 200
    body = response.json()
    assert (body["device"], body["firstDay"], body["lastDay"]) == (
        ev_device.address, day_label(TODAY - 7), day_label(TODAY - 1)
    )  # fmt: skip
    assert body["forgedReports"] == 1
    credited, waiting, refused = body["days"]
    assert (credited["date"], credited["outcome"], credited["grams"], credited["kg"]) == (
        day_label(TODAY - 3), "credited", "1750", "1.750"
    )  # fmt: skip
    assert credited["reports"][0]["digest"] == paid.digest and credited["reports"][0]["distanceM"] == "40000"
    assert credited["mint"]["txHash"] == minted.tx_hash and credited["mint"]["chainBatchId"] == minted.chain_batch_id
    assert (waiting["outcome"], waiting["grams"], waiting["mint"]) == ("pending", "1750", None)
    assert [r["code"] for r in waiting["reports"]] == ["DISTANCE_IMPLAUSIBLE", "ACCEPTED"]
    assert waiting["reports"][1]["digest"] == pending.digest
    assert (refused["outcome"], refused["grams"]) == ("rejected", "0")
    assert refused["reason"].startswith("SEQUENCE_NOT_INCREASING: ")

    text = describe(explain(store, ev_device.address, TODAY - 7, TODAY - 1))
    assert f"{day_label(TODAY - 3)}: credited, 1.750 kg" in text and minted.tx_hash in text
    assert "1 more report(s) named this device without its signature" in text


def test_an_explanation_span_is_bounded_and_checked(api: httpx.Client, ev_device: DeviceSigner) -> None:
    path = f"/v1/devices/{ev_device.address}/days"
    too_long = api.get(path, params={"from": "2020-01-01", "to": "2021-12-31"})
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "INVALID_SPAN")
    backwards = api.get(path, params={"from": "2024-02-01", "to": "2024-01-01"})
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (422, "INVALID_SPAN")
    before_year_one = api.get(path, params={"to": "0001-01-02"})
    assert (before_year_one.status_code, before_year_one.json()["error"]["code"]) == (422, "INVALID_SPAN")
    not_a_date = api.get(path, params={"from": "yesterday"})
    assert (not_a_date.status_code, not_a_date.json()["error"]["code"]) == (422, "INVALID_REQUEST")
    not_an_address = api.get("/v1/devices/0x1234/days")
    assert (not_an_address.status_code, not_an_address.json()["error"]["code"]) == (422, "INVALID_REQUEST")


def test_explanations_may_be_read_from_pages_of_another_origin_but_reports_not_posted(
    api: httpx.Client, ev_device: DeviceSigner
) -> None:
    origin = {"Origin": "http://127.0.0.1:8700"}  # the backend's dashboard
    read = api.get(f"/v1/devices/{ev_device.address}/days", headers=origin)
    assert (read.status_code, read.headers["access-control-allow-origin"]) == (200, "*")
    preflight = api.options(
        "/v1/reports",
        headers=origin | {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert (preflight.status_code, preflight.text) == (400, "Disallowed CORS method")
