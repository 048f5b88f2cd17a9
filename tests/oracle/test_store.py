"""The store's fast paths against SQLAlchemy's own: inserts through the driver, lookups as built statements."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from oracle.store import (
    Claim,
    ClaimStatus,
    DeviceBaseline,
    OracleStore,
    ReportRecord,
    ReportStatus,
    _insert_many,
    _once_per_object,
)
from oracle.validation import LastAccepted

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)


def test_a_bind_processor_runs_once_per_object_and_apart_for_equal_objects() -> None:
    calls: list[object] = []

    def process(value: datetime) -> str:
        calls.append(value)
        return value.isoformat()

    convert = _once_per_object(process)
    same_instant_elsewhere = NOW.astimezone(timezone(timedelta(hours=2)))
    assert same_instant_elsewhere == NOW
    assert [convert(NOW), convert(NOW), convert(same_instant_elsewhere), convert(NOW)] == [
        NOW.isoformat(), NOW.isoformat(), same_instant_elsewhere.isoformat(), NOW.isoformat()
    ]  # fmt: skip
    assert calls == [NOW, same_instant_elsewhere]


def report_row(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "digest": f"0x{i:064x}", "device": f"0x{i % 3:040x}", "day": 20_000 + i, "sequence": i,
        "odometer_start_m": 0, "odometer_end_m": 2**63 - 1, "distance_m": i, "moving_s": 0, "energy_wh": 0,
        "fuel_ml": 0, "trace_hash": "0x" + "00" * 32, "signature": "0x", "signer": None, "received_at": NOW,
        "status": ReportStatus.REJECTED, "code": "X", "message": "m", "grams": 0, "rule": None,
        "methodology_id": None, "flags": None,
    } | fields  # fmt: skip


def stored(store: OracleStore, table: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return list(connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id"))


def test_rows_inserted_through_the_driver_are_stored_as_sqlalchemy_stores_them(tmp_path: Path) -> None:
    later = NOW.astimezone(timezone(timedelta(hours=-5))) + timedelta(seconds=1)
    rows = [
        report_row(1),
        report_row(2, status=ReportStatus.ACCEPTED, grams=2_580, rule="R", methodology_id=1, flags="A,B"),
        report_row(3, received_at=later, status="accepted", signer="0x" + "ab" * 20),
    ]
    fast, plain = OracleStore(f"sqlite:///{tmp_path / 'fast.db'}"), OracleStore(f"sqlite:///{tmp_path / 'plain.db'}")
    with fast.session() as session:
        assert OracleStore.insert_reports(session, rows) == [1, 2, 3]
        claim = {"report_id": 2, "device": "0x" + "00" * 20, "device_index": 4, "day": 20_002, "grams": 2_580,
                 "methodology_id": 1, "digest": "0x", "accepted_at": later, "status": ClaimStatus.HELD,
                 "note": "n"}  # fmt: skip
        OracleStore.insert_claims(session, [claim])
        session.commit()
    with plain.session() as session:
        connection = session.connection()
        connection.execute(ReportRecord.__table__.insert(), rows)  # type: ignore[attr-defined]
        connection.execute(Claim.__table__.insert(), [claim])  # type: ignore[attr-defined]
        session.commit()
    assert stored(fast, "report") == stored(plain, "report")
    assert stored(fast, "claim") == stored(plain, "claim")
    assert [r.received_at for r in fast.reports()] == [NOW, NOW, later]
    with pytest.raises(ValueError, match="has columns"), fast.session() as session:
        _insert_many(session.connection(), ReportRecord.__table__, [rows[0], {"digest": "0x"}])  # type: ignore[attr-defined]


def test_the_lookups_of_a_batch_agree_with_orm_queries(any_store: OracleStore) -> None:
    store = any_store
    rows = [report_row(i, status=ReportStatus.ACCEPTED if i % 2 else ReportStatus.REJECTED) for i in range(1, 1_200)]
    with store.session() as session:
        ids = OracleStore.insert_reports(session, rows)
        baselines = [{"device": f"0x{i:040x}", "report_id": ids[i], "day": i, "sequence": 2 * i,
                      "odometer_end_m": 2**63 - 1 - i} for i in range(3)]  # fmt: skip
        OracleStore.move_baselines(session, [(None, values) for values in baselines])
        session.commit()
    asked = [f"0x{i:064x}" for i in range(0, 1_300, 2)]  # past the 500 of one query, some never stored
    devices = [f"0x{i:040x}" for i in range(5)]
    with store.session() as session:
        assert OracleStore.known_digests(session, asked) == set(
            session.exec(select(ReportRecord.digest).where(col(ReportRecord.digest).in_(asked)))
        )
        assert OracleStore.baselines(session, devices) == {
            b.device: (b.report_id, LastAccepted(b.day, b.sequence, b.odometer_end_m))
            for b in session.exec(select(DeviceBaseline))
        }
        device_days = {(row["device"], row["day"]) for row in rows[::3]}
        accepted = OracleStore.accepted_by_device_day(session, device_days)
        assert {key: accepted[key] for key in device_days if key in accepted} == {
            (r.device, r.day): r.digest
            for r in session.exec(select(ReportRecord).where(ReportRecord.status == ReportStatus.ACCEPTED))
            if (r.device, r.day) in device_days
        }
        assert len([key for key in device_days if key in accepted]) == sum(
            r["status"] is ReportStatus.ACCEPTED for r in rows[::3]
        )


def _open_store(url: str, start: Any) -> None:
    start.wait()
    OracleStore(url)


def test_commands_opening_a_new_store_at_once_all_find_its_tables(tmp_path: Path) -> None:
    """The devnet's stack starts the oracle's API and its minter together on a new store; both create
    its tables, and the one that loses the race must not fail."""
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        start = context.Barrier(4)
        openers = [context.Process(target=_open_store, args=(url, start)) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
        assert [opener.exitcode for opener in openers] == [0, 0, 0, 0]
        with OracleStore(url).session() as session:
            assert session.exec(select(ReportRecord)).all() == []
