from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import col, select
from web3.logs import DISCARD

from contracts.chain import Sender
from contracts.client import CreditContracts, DeviceStatus, day_date
from oracle import methodology as methodologies
from oracle.batching import BatchPlanner, BatchPolicy, MintingBlocked, PendingClaim, PlannedBatch, Refusal, batch_tree
from oracle.device import DeviceSigner
from oracle.methodology import DailyFigures
from oracle.minter import Minter, MinterBusy
from oracle.report import ReportDomain
from oracle.service import Oracle
from oracle.store import BatchStatus, Claim, ClaimStatus, MintBatch, OracleStore, ReportStatus
from tests.conftest import TODAY, Actors, SenderFor, clock_at
from tests.helpers import issue
from tests.oracle.conftest import daily


class Crash(Exception):
    """Stands in for the process dying at a chosen point."""


@pytest.fixture
def minter(contracts: CreditContracts, store: OracleStore, sender: SenderFor) -> Minter:
    return Minter(store, contracts, sender("oracle"), BatchPolicy(size=2))


@pytest.fixture
def three_claims(
    oracle: Oracle, ev_device: DeviceSigner, petrol_device: DeviceSigner, domain: ReportDomain
) -> list[str]:
    """Two EV days (1750 g each) and, on the first of them, a car-free petrol day (2580 g), accepted and
    pending. A batch pays one day: the first day's two claims, then the second day's one."""
    digests = []
    for sequence, day in enumerate((TODAY - 2, TODAY - 1), start=1):
        report = daily(ev_device, day=day, sequence=sequence, start_m=(sequence - 1) * 40_000)
        digests.append(oracle.ingest(ev_device.sign(report, domain)).digest)
    idle = daily(petrol_device, day=TODAY - 2, distance_m=0, energy_wh=0)
    digests.append(oracle.ingest(petrol_device.sign(idle, domain)).digest)
    return digests


def claim_states(store: OracleStore) -> list[ClaimStatus]:
    with store.session() as session:
        return [claim.status for claim in session.exec(select(Claim).order_by(col(Claim.id)))]


def batches(store: OracleStore) -> list[MintBatch]:
    with store.session() as session:
        return list(session.exec(select(MintBatch).order_by(col(MintBatch.id))))


def test_pending_claims_are_minted_in_batches(
    minter: Minter, store: OracleStore, contracts: CreditContracts, actors: Actors, three_claims: list[str]
) -> None:
    results = minter.run()

    assert [(r.claims, r.grams) for r in results] == [(2, 1750 + 2580), (1, 1750)]
    assert [r.chain_batch_id for r in results] == [1, 2]
    assert contracts.balance_of(actors.driver.address) == 3500
    assert contracts.balance_of(actors.other_driver.address) == 2580
    assert claim_states(store) == [ClaimStatus.MINTED] * 3
    assert [b.status for b in batches(store)] == [BatchStatus.CONFIRMED] * 2
    assert minter.run() == []  # nothing left, nothing minted twice


def test_every_minted_claim_can_be_proven_against_its_batch_on_chain(
    minter: Minter, store: OracleStore, contracts: CreditContracts, actors: Actors, three_claims: list[str]
) -> None:
    results = minter.run()
    for result in results:
        receipt = contracts.w3.eth.get_transaction_receipt(result.tx_hash)
        (issued,) = contracts.token.events.CreditsIssued().process_receipt(receipt, errors=DISCARD)
        with store.session() as session:
            batch = session.exec(select(MintBatch).where(MintBatch.tx_hash == result.tx_hash)).one()
            claims = list(
                session.exec(select(Claim).where(Claim.batch_id == batch.id).order_by(col(Claim.device_index)))
            )
        tree = batch_tree(claims)
        assert issued.args.evidenceRoot == tree.root == bytes.fromhex(batch.evidence_root[2:])
        assert (issued.args.methodologyId, issued.args.day) == (1, batch.day)
        for position, claim in enumerate(claims):
            assert claim.digest in three_claims
            fields = (claim.device, claim.day, claim.owner, claim.grams, bytes.fromhex(claim.digest[2:]))
            assert contracts.token.functions.verifyCredit(result.chain_batch_id, *fields, tree.proof(position)).call()
    owners = {claim.owner for claim in _all_claims(store)}
    assert owners == {actors.driver.address, actors.other_driver.address}


def _all_claims(store: OracleStore) -> list[Claim]:
    with store.session() as session:
        return list(session.exec(select(Claim)))


def test_a_crash_before_signing_leaves_claims_that_the_next_run_mints(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    monkeypatch: pytest.MonkeyPatch,
    three_claims: list[str],
) -> None:
    monkeypatch.setattr(Sender, "sign", _crash)
    with pytest.raises(Crash):
        minter.run()
    assert [b.status for b in batches(store)] == [BatchStatus.PREPARED]
    monkeypatch.undo()

    minter.run()
    assert [b.status for b in batches(store)] == [BatchStatus.FAILED, BatchStatus.CONFIRMED, BatchStatus.CONFIRMED]
    assert contracts.supply().issued == 1750 * 2 + 2580


def test_a_crash_between_storing_and_broadcasting_sends_the_same_transaction_once(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    monkeypatch: pytest.MonkeyPatch,
    three_claims: list[str],
) -> None:
    monkeypatch.setattr(Sender, "broadcast", _crash)
    with pytest.raises(Crash):
        minter.run()
    (stored,) = batches(store)
    assert stored.status is BatchStatus.SENT and stored.raw_tx is not None
    monkeypatch.undo()

    results = minter.run()
    assert results[0].tx_hash == stored.tx_hash  # the stored transaction, not a new one
    assert contracts.supply().issued == 1750 * 2 + 2580
    assert claim_states(store) == [ClaimStatus.MINTED] * 3


def test_a_crash_after_broadcasting_confirms_from_the_receipt_without_minting_again(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    monkeypatch: pytest.MonkeyPatch,
    three_claims: list[str],
) -> None:
    monkeypatch.setattr(Minter, "_confirm", _crash)
    with pytest.raises(Crash):
        minter.run()
    assert contracts.supply().issued == 1750 + 2580  # the first batch is on chain ...
    assert [b.status for b in batches(store)] == [BatchStatus.SENT]  # ... but not recorded as confirmed
    monkeypatch.undo()

    minter.run()
    assert [b.status for b in batches(store)] == [BatchStatus.CONFIRMED, BatchStatus.CONFIRMED]
    assert contracts.supply().issued == 1750 * 2 + 2580
    assert contracts.token.functions.batchCount().call() == 2


def test_a_claim_the_chain_already_credited_is_held_and_the_rest_minted(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    sender: SenderFor,
    ev_device: DeviceSigner,
    three_claims: list[str],
) -> None:
    # The day was credited outside this database (a restored backup, a second oracle): the token refuses
    # it, the minter holds that claim and mints the others.
    issue(contracts, sender("oracle"), TODAY - 2, (ev_device.address, 1750))
    minter.run()
    assert claim_states(store) == [ClaimStatus.HELD, ClaimStatus.MINTED, ClaimStatus.MINTED]
    with store.session() as session:
        held = session.exec(select(Claim).where(Claim.status == ClaimStatus.HELD)).one()
    assert held.note is not None and "CreditTokenDayAlreadyCredited" in held.note
    assert contracts.supply().issued == 1750 * 2 + 2580


def test_a_suspended_devices_claims_are_held(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    sender: SenderFor,
    ev_device: DeviceSigner,
    three_claims: list[str],
) -> None:
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    minter.run()
    assert claim_states(store) == [ClaimStatus.HELD, ClaimStatus.HELD, ClaimStatus.MINTED]


def test_without_the_oracle_role_minting_stops_and_claims_stay_pending(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    sender: SenderFor,
    actors: Actors,
    three_claims: list[str],
) -> None:
    role = contracts.role(contracts.token, "ORACLE_ROLE")
    sender("admin").transact(contracts.token.functions.revokeRole(role, actors.oracle.address))
    with pytest.raises(MintingBlocked, match="AccessControlUnauthorizedAccount"):
        minter.run()
    assert claim_states(store) == [ClaimStatus.PENDING] * 3
    assert contracts.supply().issued == 0


def test_a_batch_policy_needs_room_for_a_claim() -> None:
    with pytest.raises(ValueError, match="at least 1 claim"):
        BatchPolicy(size=0)


def test_without_flush_only_full_or_old_groups_are_minted(
    store: OracleStore, contracts: CreditContracts, sender: SenderFor, three_claims: list[str]
) -> None:
    # The first day has 2 claims, the second 1: with batches of 2, only the first is due.
    waiting = Minter(store, contracts, sender("oracle"), BatchPolicy(size=2, max_age=timedelta(hours=1)))
    assert [(r.claims, r.day) for r in waiting.run(flush=False)] == [(2, TODAY - 2)]
    assert claim_states(store).count(ClaimStatus.PENDING) == 1
    # Once the oldest pending claim has waited long enough, its group is due however small.
    impatient = Minter(store, contracts, sender("oracle"), BatchPolicy(size=2, max_age=timedelta(0)))
    assert [(r.claims, r.day) for r in impatient.run(flush=False)] == [(1, TODAY - 1)]
    assert claim_states(store) == [ClaimStatus.MINTED] * 3


def _crash(*_args: object, **_kwargs: object) -> None:
    raise Crash()


def test_a_batch_whose_nonce_another_transaction_took_is_failed_and_its_claims_minted_again(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    monkeypatch: pytest.MonkeyPatch,
    three_claims: list[str],
) -> None:
    monkeypatch.setattr(Sender, "broadcast", _crash)
    with pytest.raises(Crash):
        minter.run()
    monkeypatch.undo()
    # Meanwhile the oracle's key sends something else with the batch's nonce.
    (stored,) = batches(store)
    assert stored.nonce == sender("oracle").next_nonce()
    sender("oracle").transact(contracts.token.functions.approve(actors.buyer.address, 1))

    minter.run()
    assert [b.status for b in batches(store)][:1] == [BatchStatus.FAILED]
    assert "nonce" in (batches(store)[0].error or "")
    assert claim_states(store) == [ClaimStatus.MINTED] * 3
    assert contracts.supply().issued == 1750 * 2 + 2580


def test_only_one_minter_runs_at_a_time(
    minter: Minter, store: OracleStore, contracts: CreditContracts, sender: SenderFor, three_claims: list[str]
) -> None:
    other = Minter(store, contracts, sender("oracle"), BatchPolicy(size=2))
    assert store.take_lease(other.holder, seconds=60)
    with pytest.raises(MinterBusy):
        minter.run()
    assert claim_states(store) == [ClaimStatus.PENDING] * 3
    store.release_lease(other.holder)
    assert len(minter.run()) == 2
    # A lease that ran out (its minter died) can be taken over.
    assert store.take_lease(other.holder, seconds=-1)
    assert store.take_lease(minter.holder, seconds=60)


def test_concurrent_runs_never_record_a_grams_twice(
    store: OracleStore, contracts: CreditContracts, sender: SenderFor, three_claims: list[str]
) -> None:
    minters = [Minter(store, contracts, sender("oracle"), BatchPolicy(size=2)) for _ in range(4)]
    outcomes: list[object] = []

    def run(minter: Minter) -> None:
        try:
            outcomes.append(minter.run())
        except MinterBusy as busy:
            outcomes.append(busy)

    threads = [threading.Thread(target=run, args=(minter,)) for minter in minters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Minter(store, contracts, sender("oracle"), BatchPolicy(size=2)).run()  # what the losers of the race left
    assert claim_states(store) == [ClaimStatus.MINTED] * 3
    confirmed = [b for b in batches(store) if b.status is BatchStatus.CONFIRMED]
    assert sum(b.grams for b in confirmed) == contracts.supply().issued == 1750 * 2 + 2580


def test_a_dry_run_plans_the_batches_a_run_sends_and_writes_nothing(
    minter: Minter, store: OracleStore, contracts: CreditContracts, three_claims: list[str]
) -> None:
    planned = list(BatchPlanner(store, contracts, BatchPolicy(size=2)).dry_run())
    assert all(isinstance(p, PlannedBatch) for p in planned)
    assert [(p.day, len(p.claims), p.grams) for p in planned] == [(TODAY - 2, 2, 1750 + 2580), (TODAY - 1, 1, 1750)]
    assert claim_states(store) == [ClaimStatus.PENDING] * 3 and batches(store) == []

    minter.run()
    assert [b.evidence_root for b in batches(store)] == [
        "0x" + p.tree.root.hex() for p in planned if isinstance(p, PlannedBatch)
    ]


def test_a_dry_run_names_the_claims_the_registry_would_refuse(
    store: OracleStore, contracts: CreditContracts, sender: SenderFor, ev_device: DeviceSigner, three_claims: list[str]
) -> None:
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    outcome = list(BatchPlanner(store, contracts, BatchPolicy(size=2)).dry_run())
    refusals = [item for item in outcome if isinstance(item, Refusal)]
    assert [(r.claims[0].device, r.claims[0].day, r.revert.name) for r in refusals] == [
        (ev_device.address, TODAY - 2, "DeviceRegistryDeviceNotActive"),
        (ev_device.address, TODAY - 1, "DeviceRegistryDeviceNotActive"),
    ]
    assert [len(p.claims) for p in outcome if isinstance(p, PlannedBatch)] == [1]
    assert claim_states(store) == [ClaimStatus.PENDING] * 3


def test_a_day_the_chain_has_not_ended_waits_without_stopping_the_others(
    contracts: CreditContracts,
    store: OracleStore,
    sender: SenderFor,
    methodology: DailyFigures,
    ev_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    """At 23:57 a device clock a few minutes fast reports the day now ending; it is accepted (within the
    skew allowed) but only minted once the chain's day is over, and the day before is minted meanwhile."""
    chain_today = contracts.chain_day()
    late_evening = datetime.combine(day_date(chain_today), time(23, 57), UTC)
    oracle = Oracle(store, contracts, [methodology], clock=lambda: late_evening)
    for sequence, day in enumerate((chain_today - 1, chain_today), start=1):
        report = daily(ev_device, day=day, sequence=sequence, start_m=(sequence - 1) * 40_000)
        assert oracle.ingest(ev_device.sign(report, domain)).status is ReportStatus.ACCEPTED

    results = Minter(store, contracts, sender("oracle"), BatchPolicy(size=1)).run(flush=True)
    assert [result.day for result in results] == [chain_today - 1]
    assert claim_states(store) == [ClaimStatus.MINTED, ClaimStatus.PENDING]


def test_a_group_the_chain_refuses_does_not_stop_the_other_groups(
    contracts: CreditContracts,
    store: OracleStore,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    domain: ReportDomain,
) -> None:
    """v2 pays the EV's day, v1 the petrol car's; with v2 deactivated on chain, v1's batch still goes out
    and the run then says what is blocked, carrying what it minted."""
    oracle = Oracle(store, contracts, [methodologies.load(2), methodologies.load(1)], clock=clock_at(TODAY))
    oracle.ingest(ev_device.sign(daily(ev_device, day=TODAY - 1), domain))
    oracle.ingest(petrol_device.sign(daily(petrol_device, day=TODAY - 1, distance_m=0, energy_wh=0), domain))
    sender("admin").transact(contracts.token.functions.setMethodologyActive(2, False))

    with pytest.raises(MintingBlocked, match="CreditTokenMethodologyInactive") as blocked:
        Minter(store, contracts, sender("oracle"), BatchPolicy(size=10)).run()
    assert [(result.claims, result.grams) for result in blocked.value.minted] == [(1, 2580)]
    with store.session() as session:
        states = {claim.methodology_id: claim.status for claim in session.exec(select(Claim))}
    assert states == {2: ClaimStatus.PENDING, 1: ClaimStatus.MINTED}


def test_a_claim_held_while_its_batch_is_planned_is_left_out_of_the_batch(
    minter: Minter,
    store: OracleStore,
    contracts: CreditContracts,
    monkeypatch: pytest.MonkeyPatch,
    three_claims: list[str],
) -> None:
    """A report decided while the minter asks the registry holds the petrol car's car-free claim (an
    odometer gap): the batch is planned again without it."""
    plan = minter.planner.plan

    def plan_while_a_report_holds_a_claim(claims: list[PendingClaim]) -> tuple[PlannedBatch | None, list[Refusal]]:
        planned = plan(claims)
        with store.session() as session:
            petrol_claim = session.exec(select(Claim).where(Claim.grams == 2580)).one()
            if petrol_claim.status is ClaimStatus.PENDING:
                store.hold_claims(session, [petrol_claim.id], "the odometer moved after this day")
                session.commit()
        return planned

    monkeypatch.setattr(minter.planner, "plan", plan_while_a_report_holds_a_claim)
    results = minter.run()
    assert [(result.claims, result.grams) for result in results] == [(1, 1750), (1, 1750)]
    assert claim_states(store) == [ClaimStatus.MINTED, ClaimStatus.MINTED, ClaimStatus.HELD]
    assert contracts.supply().issued == 3500
