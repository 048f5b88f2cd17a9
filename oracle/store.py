"""The oracle's store, which is also its outbox.

Every report is kept with its decision. An accepted report that earns grams becomes a claim in the same
transaction. A claim joins a mint batch; the batch row, with its signed transaction, is written before
the transaction is sent, so a restart can finish or repeat the send and never mint twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, event, or_, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from oracle.validation import LastAccepted


def utc_now() -> datetime:
    return datetime.now(UTC)


BigInt = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit integers (odometers and sequence numbers are uint64 in reports); SQLite's INTEGER is already
64-bit and only it auto-increments primary keys."""


class EnumText(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value ("accepted") in a text column, as the partial index below expects;
    no database enum type, so adding a status needs no migration of a type."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class ConcurrentDecision(Exception):
    """Another request changed the device's baseline while this one was deciding: decide again."""


class OracleModel(SQLModel, registry=registry()):
    """Base of the oracle's tables: their own metadata, apart from the backend's."""


class ReportStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ClaimStatus(StrEnum):
    PENDING = "pending"
    BATCHED = "batched"
    MINTED = "minted"
    HELD = "held"
    """The chain refused it (device suspended, already credited); kept for an operator to look at."""


class BatchStatus(StrEnum):
    PREPARED = "prepared"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class ReportRecord(OracleModel, table=True):
    """One received report and the decision on it. Reports are never updated or deleted."""

    __tablename__ = "report"
    __table_args__ = (
        Index(
            "one_accepted_report_per_device_day",
            "device",
            "day",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    digest: str = Field(index=True, max_length=66)
    device: str = Field(index=True, max_length=42)
    day: int = Field(sa_type=BigInt)
    sequence: int = Field(sa_type=BigInt)
    odometer_start_m: int = Field(sa_type=BigInt)
    odometer_end_m: int = Field(sa_type=BigInt)
    distance_m: int = Field(sa_type=BigInt)
    moving_s: int = Field(sa_type=BigInt)
    energy_wh: int = Field(sa_type=BigInt)
    fuel_ml: int = Field(sa_type=BigInt)
    trace_hash: str = Field(max_length=66)
    signature: str
    signer: str | None = Field(default=None, max_length=42)
    received_at: datetime = Field(default_factory=utc_now)
    status: ReportStatus = Field(sa_type=EnumText(ReportStatus))
    code: str = Field(max_length=40)
    """ACCEPTED, or the rejection's reason code."""
    message: str
    rule: str | None = Field(default=None, max_length=40)
    flags: str | None = Field(default=None, max_length=200)
    """Comma-separated remarks on an accepted report (ODOMETER_GAP)."""
    grams: int = Field(default=0, sa_type=BigInt)
    methodology_id: int | None = Field(default=None, sa_type=BigInt)


class Claim(OracleModel, table=True):
    """Grams owed for one accepted device-day, until a confirmed mint pays them."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    report_id: int = Field(foreign_key="report.id", unique=True, sa_type=BigInt)
    device: str = Field(index=True, max_length=42)
    device_index: int = Field(sa_type=BigInt)
    """The device's number in the registry: what the token's batches address it by."""
    day: int = Field(index=True, sa_type=BigInt)
    grams: int = Field(sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    digest: str = Field(max_length=66)
    owner: str | None = Field(default=None, max_length=42)
    """Who the registry credits for this day, once the claim joins a batch (part of the evidence leaf)."""
    accepted_at: datetime = Field(default_factory=utc_now, index=True)
    status: ClaimStatus = Field(default=ClaimStatus.PENDING, index=True, sa_type=EnumText(ClaimStatus))
    batch_id: int | None = Field(default=None, foreign_key="mint_batch.id", index=True, sa_type=BigInt)
    note: str | None = None


class DeviceBaseline(OracleModel, table=True):
    """A device's last accepted report: what its next report must continue. A request moves it only if
    it still holds what that request read (optimistic locking), so two concurrent reports of one device
    cannot both continue the same baseline."""

    __tablename__ = "device_baseline"

    device: str = Field(primary_key=True, max_length=42)
    report_id: int = Field(foreign_key="report.id", sa_type=BigInt)
    day: int = Field(sa_type=BigInt)
    sequence: int = Field(sa_type=BigInt)
    odometer_end_m: int = Field(sa_type=BigInt)

    def last_accepted(self) -> LastAccepted:
        return LastAccepted(self.day, self.sequence, self.odometer_end_m)


class MintBatch(OracleModel, table=True):
    """One mint transaction and the claims it pays."""

    __tablename__ = "mint_batch"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    day: int = Field(sa_type=BigInt)
    evidence_root: str = Field(max_length=66)
    """The Merkle root of the batch's claims, in device-index order (oracle.merkle)."""
    claims: int = Field(sa_type=BigInt)
    grams: int = Field(sa_type=BigInt)
    status: BatchStatus = Field(default=BatchStatus.PREPARED, index=True, sa_type=EnumText(BatchStatus))
    nonce: int | None = Field(default=None, sa_type=BigInt)
    tx_hash: str | None = Field(default=None, max_length=66, unique=True)
    raw_tx: str | None = None
    block_number: int | None = Field(default=None, sa_type=BigInt)
    chain_batch_id: int | None = Field(default=None, sa_type=BigInt)
    error: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class MinterLease(OracleModel, table=True):
    """Who may mint now. One minter at a time per store: two would allocate the same nonces and could
    both take a batch for the same claims. Expiry in epoch milliseconds, so it compares the same on every
    database."""

    __tablename__ = "minter_lease"

    id: int = Field(default=1, primary_key=True)
    holder: str = Field(max_length=100)
    expires_ms: int = Field(sa_type=BigInt)


class OracleStore:
    """Sessions on the oracle's database (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        OracleModel.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    def accepted_by_digest(session: Session, digest: str) -> ReportRecord | None:
        query = select(ReportRecord).where(ReportRecord.digest == digest, ReportRecord.status == ReportStatus.ACCEPTED)
        return session.exec(query).first()

    @staticmethod
    def accepted_for_day(session: Session, device: str, day: int) -> ReportRecord | None:
        query = select(ReportRecord).where(
            ReportRecord.device == device, ReportRecord.day == day, ReportRecord.status == ReportStatus.ACCEPTED
        )
        return session.exec(query).first()

    @staticmethod
    def hold_car_free_claim(session: Session, report_id: int, reason: str) -> None:
        """Hold the car-free claim of a report, if it has one that is not minted yet: a later report
        showed the odometer moved after it, so the day may not have been car-free."""
        claim = session.exec(
            select(Claim)
            .join(ReportRecord, col(ReportRecord.id) == Claim.report_id)
            .where(Claim.report_id == report_id, Claim.status == ClaimStatus.PENDING)
            .where(ReportRecord.rule == "CAR_FREE_DAY")
        ).first()
        if claim is not None:
            claim.status = ClaimStatus.HELD
            claim.note = reason

    @staticmethod
    def baseline(session: Session, device: str) -> DeviceBaseline | None:
        return session.get(DeviceBaseline, device)

    @staticmethod
    def advance_baseline(session: Session, read: DeviceBaseline | None, accepted: ReportRecord) -> None:
        """Make `accepted` the device's baseline, if the baseline is still `read`; else ConcurrentDecision.
        (A concurrent first report fails on the primary key instead: an IntegrityError.)"""
        assert accepted.id is not None
        values = {
            "report_id": accepted.id,
            "day": accepted.day,
            "sequence": accepted.sequence,
            "odometer_end_m": accepted.odometer_end_m,
        }
        if read is None:
            session.add(DeviceBaseline(device=accepted.device, **values))
            session.flush()
            return
        moved = session.execute(
            update(DeviceBaseline)
            .where(DeviceBaseline.device == accepted.device, DeviceBaseline.report_id == read.report_id)  # type: ignore[arg-type]
            .values(**values)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentDecision(accepted.device)

    def take_lease(self, holder: str, seconds: int) -> bool:
        """Take or renew the minter lease for `holder`; False while another holder's lease runs."""
        now_ms = int(utc_now().timestamp() * 1000)
        expires_ms = now_ms + seconds * 1000
        with self.session() as session:
            if session.get(MinterLease, 1) is None:
                session.add(MinterLease(holder=holder, expires_ms=expires_ms))
                try:
                    session.commit()
                    return True
                except IntegrityError:
                    session.rollback()
            taken = session.execute(
                update(MinterLease)
                .where(MinterLease.id == 1)  # type: ignore[arg-type]
                .where(or_(MinterLease.holder == holder, MinterLease.expires_ms < now_ms))  # type: ignore[arg-type]
                .values(holder=holder, expires_ms=expires_ms)
            )
            session.commit()
            return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def release_lease(self, holder: str) -> None:
        with self.session() as session:
            session.execute(
                update(MinterLease).where(MinterLease.holder == holder).values(expires_ms=0)  # type: ignore[arg-type]
            )
            session.commit()

    def reports(self, *, digest: str | None = None, device: str | None = None) -> list[ReportRecord]:
        with self.session() as session:
            query = select(ReportRecord).order_by(ReportRecord.id)  # type: ignore[arg-type]
            if digest is not None:
                query = query.where(ReportRecord.digest == digest)
            if device is not None:
                query = query.where(ReportRecord.device == device)
            return list(session.exec(query))


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
