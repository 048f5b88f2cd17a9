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

from sqlalchemy import BigInteger, Index, Integer, event, text
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, create_engine, select

from oracle.validation import LastAccepted


def utc_now() -> datetime:
    return datetime.now(UTC)


BigInt = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit integers (odometers and sequence numbers are uint64 in reports); SQLite's INTEGER is already
64-bit and only it auto-increments primary keys."""


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
    energy_wh: int = Field(sa_type=BigInt)
    fuel_ml: int = Field(sa_type=BigInt)
    trace_hash: str = Field(max_length=66)
    signature: str
    signer: str | None = Field(default=None, max_length=42)
    received_at: datetime = Field(default_factory=utc_now)
    status: ReportStatus
    code: str = Field(max_length=40)
    """ACCEPTED, or the rejection's reason code."""
    message: str
    rule: str | None = Field(default=None, max_length=40)
    grams: int = Field(default=0, sa_type=BigInt)
    methodology_id: int | None = Field(default=None, sa_type=BigInt)


class Claim(OracleModel, table=True):
    """Grams owed for one accepted device-day, until a confirmed mint pays them."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    report_id: int = Field(foreign_key="report.id", unique=True, sa_type=BigInt)
    device: str = Field(index=True, max_length=42)
    day: int = Field(sa_type=BigInt)
    grams: int = Field(sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    digest: str = Field(max_length=66)
    status: ClaimStatus = Field(default=ClaimStatus.PENDING, index=True)
    batch_id: int | None = Field(default=None, foreign_key="mint_batch.id", index=True, sa_type=BigInt)
    note: str | None = None


class MintBatch(OracleModel, table=True):
    """One mint transaction and the claims it pays."""

    __tablename__ = "mint_batch"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    evidence_hash: str = Field(max_length=66)
    claims: int = Field(sa_type=BigInt)
    grams: int = Field(sa_type=BigInt)
    status: BatchStatus = Field(default=BatchStatus.PREPARED, index=True)
    nonce: int | None = Field(default=None, sa_type=BigInt)
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: str | None = None
    block_number: int | None = Field(default=None, sa_type=BigInt)
    chain_batch_id: int | None = Field(default=None, sa_type=BigInt)
    error: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


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
    def last_accepted(session: Session, device: str) -> LastAccepted | None:
        query = (
            select(ReportRecord)
            .where(ReportRecord.device == device, ReportRecord.status == ReportStatus.ACCEPTED)
            .order_by(ReportRecord.day.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
        last = session.exec(query).first()
        return None if last is None else LastAccepted(last.day, last.sequence, last.odometer_end_m)

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
