"""Which pending claims go into which mint batch, with the owners the registry credits and the evidence.

A batch pays claims of one methodology and one UTC day, in device-index order (devices next to each
other share a word of the token's replay guard), at most `BatchPolicy.size` of them. Planning reads the
store and the registry and writes nothing: the minter writes what it plans, and a dry run prints it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from eth_typing import ChecksumAddress
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from contracts.chain import ContractRevert
from contracts.client import pack_credits
from oracle.errors import OracleError
from oracle.merkle import CreditClaim, MerkleTree
from oracle.store import Claim, ClaimStatus, OracleStore, utc_now

if TYPE_CHECKING:
    from oracle.minter import MintResult

DEFAULT_BATCH_SIZE = 200


class MintingBlocked(OracleError):
    """The chain refuses the whole batch for a reason no claim explains (a missing role, an inactive
    methodology, a pause): an operator must act. The claims stay pending; `minted` is what the run
    minted before and besides."""

    def __init__(self, message: str, minted: Sequence[MintResult] = ()) -> None:
        super().__init__(message)
        self.minted = list(minted)


class RecipientsView(Protocol):
    """What planning reads from the chain (CreditContracts provides it)."""

    def credit_recipients(self, day: int, credits: bytes) -> list[ChecksumAddress]: ...

    def chain_day(self) -> int:
        """The UTC day of the chain's latest block: the token credits only the days before it."""
        ...


@dataclass(frozen=True)
class BatchPolicy:
    """When pending claims of one methodology and day are worth a transaction: once there are `size`
    of them, or once the oldest has waited `max_age`; a flush mints whatever pends."""

    size: int = DEFAULT_BATCH_SIZE
    max_age: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("a batch holds at least 1 claim")


@dataclass(frozen=True)
class Group:
    """The pending claims of one methodology and one day."""

    methodology_id: int
    day: int
    claims: int
    oldest: datetime


@dataclass(frozen=True)
class PendingClaim:
    """What planning reads of a pending claim (plain values: a day's claims are loaded by the hundred
    thousand)."""

    id: int
    device: str
    device_index: int
    day: int
    grams: int
    methodology_id: int
    digest: str
    owner: str | None = None
    """Not known until the registry names it; here so that a revert naming an owner reads the same."""


@dataclass(frozen=True)
class PlannedBatch:
    """Claims (in device-index order) with the owner the registry credits for each, and their evidence."""

    methodology_id: int
    day: int
    claims: list[PendingClaim]
    owners: list[ChecksumAddress]

    @property
    def credits(self) -> bytes:
        return packed(self.claims)

    @property
    def grams(self) -> int:
        return sum(claim.grams for claim in self.claims)

    @property
    def tree(self) -> MerkleTree:
        return MerkleTree(
            [evidence(claim, owner).leaf() for claim, owner in zip(self.claims, self.owners, strict=True)]
        )


@dataclass(frozen=True)
class Refusal:
    """Claims the registry refuses to credit (a suspended device, no owner on the day): to be held."""

    claims: list[PendingClaim]
    revert: ContractRevert


class BatchPlanner:
    def __init__(self, store: OracleStore, registry: RecipientsView, policy: BatchPolicy) -> None:
        self.store = store
        self.registry = registry
        self.policy = policy

    def due_groups(self, session: Session, *, flush: bool) -> list[Group]:
        """The groups to mint now, oldest first: all with `flush`, else those full or waited long enough;
        never a day the chain has not yet ended (a report's clock may run minutes ahead of the chain's)."""
        rows = session.exec(
            select(Claim.methodology_id, Claim.day, func.count(), func.min(Claim.accepted_at))
            .where(Claim.status == ClaimStatus.PENDING)
            .group_by(col(Claim.methodology_id), col(Claim.day))
            .order_by(func.min(Claim.id))
        ).all()
        due_before = utc_now() - self.policy.max_age
        chain_day = self.registry.chain_day()
        groups = [Group(methodology_id, day, count, _aware(oldest)) for methodology_id, day, count, oldest in rows]
        return [
            g for g in groups if g.day < chain_day and (flush or g.claims >= self.policy.size or g.oldest <= due_before)
        ]

    def pending(self, session: Session, group: Group, after_index: int = -1) -> list[PendingClaim]:
        """The next pending claims of a group after a device index, at most a batch of them."""
        query = (
            sa_select(
                col(Claim.id),
                col(Claim.device),
                col(Claim.device_index),
                col(Claim.day),
                col(Claim.grams),
                col(Claim.methodology_id),
                col(Claim.digest),
            )
            .where(col(Claim.status) == ClaimStatus.PENDING)
            .where(col(Claim.methodology_id) == group.methodology_id, col(Claim.day) == group.day)
            .where(col(Claim.device_index) > after_index)
            .order_by(col(Claim.device_index))
            .limit(self.policy.size)
        )
        return [PendingClaim(*row) for row in session.execute(query)]

    def plan(self, claims: list[PendingClaim]) -> tuple[PlannedBatch | None, list[Refusal]]:
        """Ask the registry whom it credits for these claims. Claims a revert names are refused and the
        others asked again; a revert that names none raises MintingBlocked."""
        refusals: list[Refusal] = []
        while claims:
            try:
                owners = self.registry.credit_recipients(claims[0].day, packed(claims))
            except ContractRevert as revert:
                named = named_by(revert, claims)
                if not named:
                    raise MintingBlocked(f"the registry refuses the batch: {revert}") from revert
                refusals.append(Refusal(named, revert))
                refused = {id(claim) for claim in named}
                claims = [claim for claim in claims if id(claim) not in refused]
                continue
            return PlannedBatch(claims[0].methodology_id, claims[0].day, claims, owners), refusals
        return None, refusals

    def dry_run(self, *, flush: bool = True) -> Iterator[PlannedBatch | Refusal]:
        """Every batch a minter would send now, and every claim it would hold, without writing anything."""
        with self.store.session() as session:
            for group in self.due_groups(session, flush=flush):
                after = -1
                while claims := self.pending(session, group, after):
                    after = claims[-1].device_index
                    batch, refusals = self.plan(claims)
                    yield from refusals
                    if batch is not None:
                        yield batch


class ClaimLike(Protocol):
    """A stored Claim or a PendingClaim."""

    @property
    def id(self) -> int | None: ...
    @property
    def device(self) -> str: ...
    @property
    def device_index(self) -> int: ...
    @property
    def day(self) -> int: ...
    @property
    def grams(self) -> int: ...
    @property
    def digest(self) -> str: ...
    @property
    def owner(self) -> str | None: ...


ClaimT = TypeVar("ClaimT", bound=ClaimLike)


def named_by(revert: ContractRevert, claims: list[ClaimT]) -> list[ClaimT]:
    """The claims a contract's error names, by device, device index or owner."""
    args = revert.args_by_name
    index = args.get("deviceIndex", args.get("index"))
    return [
        claim
        for claim in claims
        if (index is not None and claim.device_index == index)
        or claim.device == args.get("device")
        or (claim.owner is not None and claim.owner == args.get("owner"))
    ]


def packed(claims: Sequence[ClaimLike]) -> bytes:
    return pack_credits((claim.device_index, claim.grams) for claim in claims)


def evidence(claim: ClaimLike, owner: str) -> CreditClaim:
    return CreditClaim(claim.device, claim.day, owner, claim.grams, bytes.fromhex(claim.digest[2:]))


def batch_tree(claims: list[Claim]) -> MerkleTree:
    """The evidence tree of a stored batch's claims (in device-index order), for proofs."""
    leaves = []
    for claim in claims:
        if claim.owner is None:
            raise ValueError(f"claim {claim.id} is in no batch: it has no owner yet")
        leaves.append(evidence(claim, claim.owner).leaf())
    return MerkleTree(leaves)


def _aware(moment: datetime) -> datetime:
    """SQLite returns datetimes without their zone; the store writes UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
