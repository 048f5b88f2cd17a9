from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from contracts.client import CreditContracts, DeviceStatus, VehicleClass
from oracle.device import DeviceSigner
from oracle.methodology import DailyFigures, load
from oracle.report import ReportDomain, SignedReport
from oracle.service import Decision, Oracle
from oracle.store import Claim, ClaimStatus, OracleStore, ReportRecord, ReportStatus
from tests.conftest import TODAY, Actors, SenderFor, clock_at, key, register
from tests.oracle.conftest import daily


def claims(store: OracleStore) -> list[Claim]:
    with store.session() as session:
        return list(session.exec(select(Claim).order_by(col(Claim.id))))


def test_an_accepted_report_is_stored_with_its_claim(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    decision = oracle.ingest(signed)

    assert (decision.status, decision.code, decision.grams, decision.rule) == (
        ReportStatus.ACCEPTED, "ACCEPTED", 1750, "EV_DRIVEN"
    )  # fmt: skip
    assert decision.digest == "0x" + domain.digest(signed.report).hex()
    (claim,) = claims(store)
    assert (claim.device, claim.day, claim.grams, claim.methodology_id) == (ev_device.address, TODAY - 1, 1750, 1)
    assert claim.digest == decision.digest and claim.report_id == decision.report_id
    (record,) = store.reports()
    assert (record.signer, record.message) == (ev_device.address, decision.message)


def test_a_day_that_earns_nothing_is_accepted_without_a_claim(
    oracle: Oracle, store: OracleStore, petrol_device: DeviceSigner, domain: ReportDomain
) -> None:
    decision = oracle.ingest(petrol_device.sign(daily(petrol_device, energy_wh=0, fuel_ml=2_500), domain))
    assert (decision.status, decision.grams, decision.rule) == (ReportStatus.ACCEPTED, 0, "PETROL_USED")
    assert claims(store) == []


def test_the_same_report_again_is_an_idempotent_success(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    first = oracle.ingest(signed)
    again = oracle.ingest(signed)
    assert again.duplicate and not first.duplicate
    assert (again.report_id, again.status, again.grams) == (first.report_id, ReportStatus.ACCEPTED, 1750)
    assert len(store.reports()) == 1 and len(claims(store)) == 1


def test_duplicates_are_found_by_digest_not_by_signature_bytes(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    oracle.ingest(signed)
    # The same report with the domain hints left out is the same report.
    assert oracle.ingest(SignedReport(signed.report, signed.signature)).duplicate


def test_a_different_report_for_an_accepted_day_is_a_stored_conflict(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    first = oracle.ingest(ev_device.sign(daily(ev_device), domain))
    decision = oracle.ingest(ev_device.sign(daily(ev_device, distance_m=50_000, energy_wh=5_000), domain))
    assert (decision.status, decision.code) == (ReportStatus.REJECTED, "DAY_CONFLICT")
    assert first.digest in decision.message
    assert [r.status for r in store.reports()] == [ReportStatus.ACCEPTED, ReportStatus.REJECTED]
    assert len(claims(store)) == 1


def test_a_report_rejected_again_for_the_same_reason_is_stored_once(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    """Replaying a device's rejected report, alone or many times in one batch, cannot fill its page."""
    oracle.ingest(ev_device.sign(daily(ev_device), domain))
    conflict = ev_device.sign(daily(ev_device, distance_m=50_000, energy_wh=5_000), domain)
    other_conflict = ev_device.sign(daily(ev_device, distance_m=60_000, energy_wh=6_000), domain)
    first = oracle.ingest(conflict)
    again = oracle.ingest_many([conflict, other_conflict, other_conflict, conflict])
    assert [(d.code, d.duplicate) for d in again] == [
        ("DAY_CONFLICT", True), ("DAY_CONFLICT", False), ("DAY_CONFLICT", True), ("DAY_CONFLICT", True),
    ]  # fmt: skip
    assert again[0].report_id == again[3].report_id == first.report_id
    assert again[2].report_id == again[1].report_id
    assert [r.code for r in store.reports()] == ["ACCEPTED", "DAY_CONFLICT", "DAY_CONFLICT"]


def test_a_rejected_report_is_judged_afresh_when_sent_again(
    contracts: CreditContracts,
    store: OracleStore,
    methodology: DailyFigures,
    ev_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    signed = ev_device.sign(daily(ev_device, day=TODAY), domain)
    early = Oracle(store, contracts, [methodology], clock=clock_at(TODAY, hour=23)).ingest(signed)
    assert early.code == "DAY_NOT_ENDED"
    later = Oracle(store, contracts, [methodology], clock=clock_at(TODAY + 1)).ingest(signed)
    assert (later.status, later.duplicate) == (ReportStatus.ACCEPTED, False)
    assert [r.code for r in store.reports()] == ["DAY_NOT_ENDED", "ACCEPTED"]


def test_consecutive_days_continue_the_odometer(oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain) -> None:
    oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 3, sequence=1), domain))
    decision = oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 2, sequence=2, start_m=40_000), domain))
    assert decision.status is ReportStatus.ACCEPTED


def rejection(oracle: Oracle, signed: SignedReport) -> tuple[str, str]:
    decision = oracle.ingest(signed)
    assert decision.status is ReportStatus.REJECTED
    assert decision.grams == 0
    return decision.code, decision.message


def test_a_report_altered_after_signing_is_refused(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    tampered = SignedReport(signed.report.replace(distance_m=80_000), signed.signature)
    code, message = rejection(oracle, tampered)
    assert code == "SIGNER_MISMATCH" and f"names device {ev_device.address}" in message


def test_a_report_signed_for_another_chain_or_registry_is_refused(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain, actors: Actors
) -> None:
    report = daily(ev_device)
    other_chain = ReportDomain(domain.chain_id + 1, domain.registry)
    other_registry = ReportDomain(domain.chain_id, actors.stranger.address)
    # With the device's own statement of its domain, the oracle says plainly what is wrong ...
    code, message = rejection(oracle, ev_device.sign(report, other_chain))
    assert code == "WRONG_DOMAIN"
    assert (
        message
        == f"the report was signed for chain id {domain.chain_id + 1}, this oracle verifies chain id {domain.chain_id}"
    )
    assert rejection(oracle, ev_device.sign(report, other_registry))[0] == "WRONG_DOMAIN"
    # ... and without it, the signature simply does not verify in this domain.
    bare = ev_device.sign(report, other_chain)
    assert rejection(oracle, SignedReport(bare.report, bare.signature))[0] == "SIGNER_MISMATCH"


def test_unregistered_and_suspended_devices_earn_nothing(
    oracle: Oracle,
    contracts: CreditContracts,
    ev_device: DeviceSigner,
    domain: ReportDomain,
    sender: SenderFor,
) -> None:
    stranger = DeviceSigner(key("unregistered"))
    assert rejection(oracle, stranger.sign(daily(stranger), domain))[0] == "UNKNOWN_DEVICE"
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    assert rejection(oracle, ev_device.sign(daily(ev_device), domain))[0] == "DEVICE_SUSPENDED"


def test_a_malformed_signature_is_stored_as_rejected(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    assert rejection(oracle, SignedReport(signed.report, signed.signature[:64]))[0] == "SIGNATURE_MALFORMED"
    (record,) = store.reports()
    assert (record.status, record.code, record.signer) == (ReportStatus.REJECTED, "SIGNATURE_MALFORMED", None)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"day": TODAY}, "DAY_NOT_ENDED"),
        ({"day": TODAY - 31}, "DAY_TOO_OLD"),
        ({"day": 0}, "DAY_TOO_OLD"),
        ({"distance_m": 41_000}, "DISTANCE_MISMATCH"),
        ({"energy_wh": 100}, "ENERGY_IMPLAUSIBLE"),
    ],
)
def test_content_rejections_reach_the_driver_with_their_code(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain, fields: dict[str, int], code: str
) -> None:
    report = daily(ev_device, **fields)
    if "distance_m" in fields:
        report = report.replace(odometer_end_m=40_000)
    assert rejection(oracle, ev_device.sign(report, domain))[0] == code


def test_a_rejected_report_never_moves_the_odometer_baseline(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 4, sequence=1), domain))  # odometer now 40 km
    # Refused reports, however wrong, leave the baseline where it was ...
    for bad in (
        daily(ev_device, day=TODAY - 3, sequence=2, start_m=0),  # rolled back
        daily(ev_device, day=TODAY + 9, sequence=2, start_m=40_000),  # far future
        daily(ev_device, day=0, sequence=2, start_m=40_000),  # epoch zero
        daily(ev_device, day=TODAY - 3, sequence=2, start_m=40_000, moving_s=60),  # 2,400 km/h
    ):
        assert oracle.ingest(ev_device.sign(bad, domain)).status is ReportStatus.REJECTED
    # ... so the next honest report continues from 40 km.
    good = daily(ev_device, day=TODAY - 3, sequence=2, start_m=40_000)
    assert oracle.ingest(ev_device.sign(good, domain)).status is ReportStatus.ACCEPTED


def test_an_odometer_gap_is_accepted_flagged_and_casts_doubt_on_the_car_free_day_before_it(
    oracle: Oracle, store: OracleStore, petrol_device: DeviceSigner, domain: ReportDomain
) -> None:
    car_free = daily(petrol_device, day=TODAY - 3, sequence=1, start_m=10_000, distance_m=0, energy_wh=0)
    assert oracle.ingest(petrol_device.sign(car_free, domain)).grams == 2580
    # The next report starts 35 km further: the car moved after the "car-free" day's report.
    later = daily(petrol_device, day=TODAY - 2, sequence=2, start_m=45_000, energy_wh=0, fuel_ml=3_000)
    decision = oracle.ingest(petrol_device.sign(later, domain))
    assert (decision.status, decision.flags) == (ReportStatus.ACCEPTED, ["ODOMETER_GAP"])
    (claim,) = claims(store)
    assert (claim.day, claim.status) == (TODAY - 3, ClaimStatus.HELD)
    assert claim.note == "the odometer moved after this day"
    # A lost report does not block the device: the one after the gap is the new baseline.
    after = daily(petrol_device, day=TODAY - 1, sequence=3, start_m=85_000, energy_wh=0, fuel_ml=3_000)
    assert oracle.ingest(petrol_device.sign(after, domain)).flags == []


def test_order_and_sequence_are_enforced_per_device(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 2, sequence=5), domain))
    late = daily(ev_device, day=TODAY - 3, sequence=6, start_m=40_000)
    assert rejection(oracle, ev_device.sign(late, domain))[0] == "DAY_OUT_OF_ORDER"
    replayed_sequence = daily(ev_device, day=TODAY - 1, sequence=5, start_m=40_000)
    assert rejection(oracle, ev_device.sign(replayed_sequence, domain))[0] == "SEQUENCE_NOT_INCREASING"


def test_a_vehicle_the_methodology_does_not_cover_is_refused(
    oracle: Oracle, contracts: CreditContracts, actors: Actors, domain: ReportDomain
) -> None:
    hybrid = register(contracts, actors, "hybrid", actors.driver, VehicleClass.OTHER)
    code, message = rejection(oracle, hybrid.sign(daily(hybrid, energy_wh=0, fuel_ml=900), domain))
    assert (code, message) == ("VEHICLE_NOT_ELIGIBLE", "no methodology in use (v1 (1.0.0)) credits other vehicles")


def test_each_claim_records_the_methodology_that_produced_it(
    contracts: CreditContracts,
    store: OracleStore,
    methodology: DailyFigures,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    oracle = Oracle(store, contracts, [load(2), methodology], clock=clock_at(TODAY))
    ev = oracle.ingest(ev_device.sign(daily(ev_device), domain))  # 40 km on 4 kWh
    petrol = oracle.ingest(petrol_device.sign(daily(petrol_device, distance_m=0, energy_wh=0), domain))
    assert (ev.methodology_id, ev.rule, ev.grams) == (2, "EV_DISTANCE", 4_694 - 2_605)
    assert (petrol.methodology_id, petrol.rule, petrol.grams) == (1, "CAR_FREE_DAY", 2580)
    assert sorted((claim.methodology_id, claim.grams) for claim in claims(store)) == [(1, 2580), (2, 2089)]


def _race(oracle: Oracle, *reports: SignedReport) -> list[Decision]:
    """Ingest the reports at the same moment from threads; the decisions in report order."""
    barrier = threading.Barrier(len(reports))
    decisions: dict[int, Decision] = {}

    def ingest(i: int, signed: SignedReport) -> None:
        barrier.wait()
        decisions[i] = oracle.ingest(signed)

    threads = [threading.Thread(target=ingest, args=item) for item in enumerate(reports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [decisions[i] for i in range(len(reports))]


def test_two_reports_for_one_device_day_at_once_are_one_acceptance_and_one_conflict(
    contracts: CreditContracts,
    any_store: OracleStore,
    methodology: DailyFigures,
    ev_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    oracle = Oracle(any_store, contracts, [methodology], clock=clock_at(TODAY))
    for round_ in range(4):
        day, sequence, start = TODAY - 8 + 2 * round_, 2 * round_ + 1, round_ * 80_000
        first = ev_device.sign(daily(ev_device, day=day, sequence=sequence, start_m=start), domain)
        other = ev_device.sign(daily(ev_device, day=day, sequence=sequence, start_m=start, energy_wh=4_001), domain)
        decisions = _race(oracle, first, other)
        assert sorted(d.code for d in decisions) == ["ACCEPTED", "DAY_CONFLICT"]
        # the next round continues from whichever report won
        nxt = daily(ev_device, day=day + 1, sequence=2 * round_ + 2, start_m=start + 40_000)
        assert oracle.ingest(ev_device.sign(nxt, domain)).status is ReportStatus.ACCEPTED
    with any_store.session() as session:
        assert len(session.exec(select(Claim)).all()) == 8


def test_two_days_of_one_device_at_once_cannot_both_continue_the_same_odometer(
    contracts: CreditContracts,
    any_store: OracleStore,
    methodology: DailyFigures,
    petrol_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    oracle = Oracle(any_store, contracts, [methodology], clock=clock_at(TODAY))
    oracle.ingest(petrol_device.sign(daily(petrol_device, day=TODAY - 3, energy_wh=0, fuel_ml=900), domain))
    driven = daily(petrol_device, day=TODAY - 2, sequence=2, start_m=40_000, energy_wh=0, fuel_ml=5_000)
    # The next day claims "car-free" from the same odometer reading, as if the drive never happened.
    car_free = daily(petrol_device, day=TODAY - 1, sequence=3, start_m=40_000, distance_m=0, energy_wh=0)
    decisions = _race(oracle, petrol_device.sign(driven, domain), petrol_device.sign(car_free, domain))
    assert [d.status for d in decisions].count(ReportStatus.ACCEPTED) == 1
    assert {d.code for d in decisions} - {"ACCEPTED"} <= {"ODOMETER_ROLLBACK", "DAY_OUT_OF_ORDER"}


def test_one_accepted_report_per_device_day_is_also_a_database_constraint(
    any_store: OracleStore, oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain
) -> None:
    decision = Oracle(any_store, oracle.registry, oracle.verifier.methodologies, clock=oracle.clock).ingest(
        ev_device.sign(daily(ev_device), domain)
    )
    with any_store.session() as session:
        accepted = session.get_one(ReportRecord, decision.report_id)
        copy = ReportRecord(**accepted.model_dump(exclude={"id"}) | {"digest": "0x" + "00" * 32})
        session.add(copy)
        with pytest.raises(IntegrityError):
            session.commit()


def _outcome(decision: Decision) -> tuple[object, ...]:
    return (decision.status, decision.code, decision.grams, decision.rule, decision.flags, decision.duplicate)


def test_a_batch_is_decided_as_its_reports_would_be_one_after_the_other(
    contracts: CreditContracts,
    methodology: DailyFigures,
    tmp_path: Path,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    car_free = petrol_device.sign(
        daily(petrol_device, day=TODAY - 4, start_m=10_000, distance_m=0, energy_wh=0), domain
    )
    reports = [
        ev_device.sign(daily(ev_device, day=TODAY - 4, sequence=1), domain),
        car_free,
        ev_device.sign(daily(ev_device, day=TODAY - 4, sequence=1), domain),  # the same report again
        ev_device.sign(daily(ev_device, day=TODAY - 4, sequence=2, distance_m=41_000), domain),  # a conflict
        ev_device.sign(daily(ev_device, day=TODAY - 3, sequence=2, start_m=40_000, distance_m=10**7), domain),
        ev_device.sign(daily(ev_device, day=TODAY - 3, sequence=3, start_m=40_000), domain),
        # The petrol car's odometer moved after its car-free day: a gap that holds that day's claim.
        petrol_device.sign(
            daily(petrol_device, day=TODAY - 2, sequence=2, start_m=50_000, energy_wh=0, fuel_ml=3_000), domain
        ),
        ev_device.sign(daily(ev_device, day=TODAY - 5, sequence=4, start_m=80_000), domain),  # out of order
    ]
    one_by_one_store = OracleStore(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    batch_store = OracleStore(f"sqlite:///{tmp_path / 'batch.db'}")
    one_by_one = Oracle(one_by_one_store, contracts, [methodology], clock=clock_at(TODAY))
    together = Oracle(batch_store, contracts, [methodology], clock=clock_at(TODAY))

    expected = [one_by_one.ingest(signed) for signed in reports]
    decided = together.ingest_many(reports)

    assert [_outcome(d) for d in decided] == [_outcome(d) for d in expected]
    assert [d.code for d in decided] == [
        "ACCEPTED", "ACCEPTED", "ACCEPTED", "DAY_CONFLICT", "DISTANCE_IMPLAUSIBLE", "ACCEPTED", "ACCEPTED",
        "DAY_OUT_OF_ORDER",
    ]  # fmt: skip
    assert decided[2].duplicate and decided[2].report_id == decided[0].report_id
    assert decided[6].flags == ["ODOMETER_GAP"]
    assert [(c.day, c.grams, c.status) for c in claims(batch_store)] == [
        (c.day, c.grams, c.status) for c in claims(one_by_one_store)
    ]
    assert [c.status for c in claims(batch_store)] == [ClaimStatus.PENDING, ClaimStatus.HELD, ClaimStatus.PENDING]
    assert len(batch_store.reports()) == len(reports) - 1  # the repeat stored nothing


def test_a_batch_is_written_whole_or_not_at_all(
    oracle: Oracle, store: OracleStore, ev_device: DeviceSigner, domain: ReportDomain, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [
        ev_device.sign(daily(ev_device, day=TODAY - 3 + i, sequence=i + 1, start_m=i * 40_000), domain)
        for i in range(2)
    ]

    def fail(*_args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(OracleStore, "move_baselines", staticmethod(fail))
    with pytest.raises(RuntimeError):
        oracle.ingest_many(reports)
    assert store.reports() == [] and claims(store) == []
    monkeypatch.undo()
    assert [d.code for d in oracle.ingest_many(reports)] == ["ACCEPTED", "ACCEPTED"]


def test_a_forged_report_costs_no_registry_read(
    oracle: Oracle, ev_device: DeviceSigner, domain: ReportDomain, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = ev_device.sign(daily(ev_device), domain)
    forged = SignedReport(signed.report.replace(distance_m=99_000), signed.signature)
    reads: list[str] = []
    monkeypatch.setattr(oracle.registry, "device", lambda address: reads.append(address))
    assert oracle.ingest(forged).code == "SIGNER_MISMATCH"
    assert reads == []
