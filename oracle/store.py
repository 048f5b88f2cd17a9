"""The oracle's store, which is also its outbox.

Every report is kept with its decision. An accepted report that earns grams becomes a claim in the same
transaction. A claim joins a mint batch; the batch row, with its signed transaction, is written before
the transaction is sent, so a restart can finish or repeat the send and never mint twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy
from sqlalchemy import BigInteger, Index, Integer, String, bindparam, event, or_, text, update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import registry
from sqlalchemy.schema import Table
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from oracle.methodology import CAR_FREE_DAY
from oracle.validation import LastAccepted

DeviceDay = tuple[str, int]


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
        Index("reports_by_device_day", "device", "day"),  # a device's days, accepted or not (oracle.explain)
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    digest: str = Field(index=True, max_length=66)
    device: str = Field(max_length=42)
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

    # A batch is the next pending claims of one methodology and day in device order (oracle.batching).
    # Indexes are few on purpose: a day inserts a claim per driver. The next batch is the next pending
    # claims of one methodology and day in device order (oracle.batching); a batch's claims by batch_id.
    __table_args__ = (Index("pending_claims_by_group", "status", "methodology_id", "day", "device_index"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInt)
    report_id: int = Field(foreign_key="report.id", unique=True, sa_type=BigInt)
    device: str = Field(max_length=42)
    device_index: int = Field(sa_type=BigInt)
    """The device's number in the registry: what the token's batches address it by."""
    day: int = Field(sa_type=BigInt)
    grams: int = Field(sa_type=BigInt)
    methodology_id: int = Field(sa_type=BigInt)
    digest: str = Field(max_length=66)
    owner: str | None = Field(default=None, max_length=42)
    """Who the registry credits for this day, once the claim joins a batch (part of the evidence leaf)."""
    accepted_at: datetime = Field(default_factory=utc_now)
    status: ClaimStatus = Field(default=ClaimStatus.PENDING, sa_type=EnumText(ClaimStatus))
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


# What a batch of decisions looks up, as statements built once: the ORM would build and coerce an IN list
# for each query, at about twice what SQLite takes to answer it.
_KNOWN_DIGESTS = (
    select(ReportRecord.digest).where(col(ReportRecord.digest).in_(bindparam("digests", expanding=True))).distinct()
)
_ACCEPTED_DEVICE_DAYS = select(ReportRecord.device, ReportRecord.day, ReportRecord.digest).where(
    col(ReportRecord.device).in_(bindparam("devices", expanding=True)),
    col(ReportRecord.day).in_(bindparam("days", expanding=True)),
    ReportRecord.status == ReportStatus.ACCEPTED,
)
_BASELINES = sqlalchemy.select(  # sqlmodel's select is typed for at most four columns
    col(DeviceBaseline.device),
    col(DeviceBaseline.report_id),
    col(DeviceBaseline.day),
    col(DeviceBaseline.sequence),
    col(DeviceBaseline.odometer_end_m),
).where(col(DeviceBaseline.device).in_(bindparam("devices", expanding=True)))


SCHEMA_ATTEMPTS = 5


def _create_tables(engine: Engine) -> None:
    """Create the tables that are missing. Commands started together on a new store (the devnet's stack
    starts the oracle's API and its minter at once) race to create them, and the loser's CREATE fails on
    a table the other just made: it tries again, and then finds them."""
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            OracleModel.metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.1 * attempt)


class OracleStore:
    """Sessions on the oracle's database (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_tables(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # -- what a batch of decisions reads and writes ------------------------------------------------

    @staticmethod
    def accepted_by_digest(session: Session, digests: Collection[str]) -> dict[str, ReportRecord]:
        """The accepted report of each digest that has one."""
        found: dict[str, ReportRecord] = {}
        for chunk in _chunks(digests):
            query = select(ReportRecord).where(
                col(ReportRecord.digest).in_(chunk), ReportRecord.status == ReportStatus.ACCEPTED
            )
            found.update((record.digest, record) for record in session.exec(query))
        return found

    @staticmethod
    def latest_rejections(session: Session, digests: Collection[str]) -> dict[str, ReportRecord]:
        """The latest rejection of each digest that has one."""
        found: dict[str, ReportRecord] = {}
        for chunk in _chunks(digests):
            query = (
                select(ReportRecord)
                .where(col(ReportRecord.digest).in_(chunk), ReportRecord.status == ReportStatus.REJECTED)
                .order_by(col(ReportRecord.id))
            )
            found.update((record.digest, record) for record in session.exec(query))
        return found

    @staticmethod
    def known_digests(session: Session, digests: Collection[str]) -> set[str]:
        """The digests of reports the store has received before, accepted or not (most reports are new:
        their records need not be looked for)."""
        connection = session.connection()
        return {
            digest
            for chunk in _chunks(digests)
            for digest in connection.execute(_KNOWN_DIGESTS, {"digests": chunk}).scalars()
        }

    @staticmethod
    def accepted_by_device_day(session: Session, device_days: Collection[tuple[str, int]]) -> dict[DeviceDay, str]:
        """The digest of the accepted report of each (device, day) that has one."""
        found: dict[DeviceDay, str] = {}
        days = sorted({day for _, day in device_days})
        connection = session.connection()
        for chunk in _chunks({device for device, _ in device_days}):
            rows = connection.execute(_ACCEPTED_DEVICE_DAYS, {"devices": chunk, "days": days})
            found.update(((device, day), digest) for device, day, digest in rows)
        return found

    @staticmethod
    def baselines(session: Session, devices: Collection[str]) -> dict[str, tuple[int, LastAccepted]]:
        """Each device's baseline, if it has one: the id of its last accepted report, and that report."""
        found: dict[str, tuple[int, LastAccepted]] = {}
        connection = session.connection()
        for chunk in _chunks(devices):
            rows = connection.execute(_BASELINES, {"devices": chunk})
            found.update((device, (report_id, LastAccepted(day, sequence, odometer_end_m)))
                         for device, report_id, day, sequence, odometer_end_m in rows)  # fmt: skip
        return found

    @staticmethod
    def insert_reports(session: Session, rows: list[dict[str, Any]]) -> list[int]:
        """Insert report rows; their ids, in the order of `rows`."""
        if not rows:
            return []
        table = ReportRecord.__table__  # type: ignore[attr-defined]
        connection = session.connection()
        if connection.dialect.name != "sqlite":
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            return list(connection.execute(statement, rows).scalars())
        # On SQLite, SQLAlchemy would return ordered ids by sending one INSERT per row. Instead: SQLite runs
        # one writing transaction at a time, and an INTEGER PRIMARY KEY takes the largest id + 1, so once
        # this transaction has inserted its rows they are the newest len(rows), in order.
        _insert_many(connection, table, rows)
        newest = select(table.c.id).order_by(table.c.id.desc()).limit(len(rows))
        return list(reversed(connection.execute(newest).scalars().all()))

    @staticmethod
    def insert_claims(session: Session, rows: list[dict[str, Any]]) -> None:
        _insert_many(session.connection(), Claim.__table__, rows)  # type: ignore[attr-defined]

    @staticmethod
    def move_baselines(session: Session, moves: list[tuple[int | None, dict[str, Any]]]) -> None:
        """Make each device's baseline the given values, if it still names the report id read (None: the
        device had none); else ConcurrentDecision. (A concurrent first report fails on the primary key:
        an IntegrityError.)"""
        created = [values for read, values in moves if read is None]
        _insert_many(session.connection(), DeviceBaseline.__table__, created)  # type: ignore[attr-defined]
        # Bound names differ from the columns' (SQLAlchemy reserves those for the SET clause).
        moved = [
            {f"new_{key}": value for key, value in values.items()} | {"read": read}
            for read, values in moves
            if read is not None
        ]
        if not moved:
            return
        statement = (
            update(DeviceBaseline)
            .where(
                col(DeviceBaseline.device) == bindparam("new_device"),
                col(DeviceBaseline.report_id) == bindparam("read"),
            )
            .values(
                report_id=bindparam("new_report_id"),
                day=bindparam("new_day"),
                sequence=bindparam("new_sequence"),
                odometer_end_m=bindparam("new_odometer_end_m"),
            )
        )
        # Executed by the connection, not the ORM: an executemany whose rowcount is the rows it changed.
        result = session.connection().execute(statement, moved)
        if result.rowcount != len(moved):
            raise ConcurrentDecision(f"{len(moved) - result.rowcount} of {len(moved)} devices")

    @staticmethod
    def hold_car_free_claims(session: Session, report_ids: Collection[int], reason: str) -> None:
        """Hold the pending car-free claims of these reports: a later report showed the odometer moved
        after them, so their days may not have been car-free."""
        for chunk in _chunks(report_ids):
            car_free = select(ReportRecord.id).where(col(ReportRecord.id).in_(chunk), ReportRecord.rule == CAR_FREE_DAY)
            session.execute(
                update(Claim)
                .where(col(Claim.report_id).in_(car_free), col(Claim.status) == ClaimStatus.PENDING)
                .values(status=ClaimStatus.HELD, note=reason)
            )

    @staticmethod
    def hold_claims(session: Session, claim_ids: Collection[int], note: str) -> None:
        """Set claims aside for an operator, with why."""
        for chunk in _chunks(claim_ids):
            session.execute(update(Claim).where(col(Claim.id).in_(chunk)).values(status=ClaimStatus.HELD, note=note))

    @staticmethod
    def batch_claims(session: Session, batch_id: int, owners: Mapping[int, str]) -> None:
        """Put pending claims (id → the owner the registry credits) into a batch; ConcurrentDecision if
        one of them is no longer pending."""
        statement = (
            update(Claim)
            .where(col(Claim.id) == bindparam("claim_id"), col(Claim.status) == ClaimStatus.PENDING)
            .values(status=ClaimStatus.BATCHED, batch_id=batch_id, owner=bindparam("claim_owner"))
        )
        rows = [{"claim_id": claim_id, "claim_owner": owner} for claim_id, owner in owners.items()]
        result = session.connection().execute(statement, rows)
        if result.rowcount != len(rows):
            raise ConcurrentDecision(f"{len(rows) - result.rowcount} of {len(rows)} claims are no longer pending")

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


def _insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (each with the same columns) in one executemany of the database driver, each value through
    its column type's own bind processor: what SQLAlchemy Core does, without its per-row bookkeeping,
    which costs more than the insert itself when a day's reports pass here."""
    if not rows:
        return
    dialect = connection.dialect
    names = list(rows[0])
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    placeholder = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if placeholder is None:  # a driver with another style: let SQLAlchemy bind
        connection.execute(table.insert(), rows)
        return
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    conversions = [(i, _once_per_object(process)) for i, process in enumerate(processors) if process is not None]
    params = []
    for row in rows:
        if len(row) != len(names):
            raise ValueError(f"a row for {table.name} has columns {sorted(row)}, the first has {sorted(names)}")
        values = [row[name] for name in names]
        for i, process in conversions:
            values[i] = process(values[i])
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def _once_per_object(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that converts each object once. Only timestamps and statuses have processors
    (about 2 µs a datetime), and every row of a batch holds the same few of them."""
    converted: dict[int, tuple[Any, Any]] = {}

    def convert(value: Any) -> Any:
        known = converted.get(id(value))
        if known is None or known[0] is not value:  # the object itself is kept, so its id is not reused
            known = converted[id(value)] = (value, process(value))
        return known[1]

    return convert


def _chunks(values: Collection[Any], size: int = 500) -> Iterator[list[Any]]:
    """Values a few hundred at a time: SQLite binds at most 32,766 parameters in one statement."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # A day's inserts touch the digest index at random: 64 MiB of page cache instead of 2, and the log
    # copied into the database every 64 MiB instead of every 4.
    cursor.execute("PRAGMA cache_size = -65536")
    cursor.execute("PRAGMA wal_autocheckpoint = 16384")
    cursor.close()
