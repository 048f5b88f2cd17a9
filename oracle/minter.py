"""Mint pending claims in batches, crash-safe.

A batch pays claims of one methodology and one UTC day, in device-index order, as packed credits; its
evidence is the Merkle root of the claims (oracle.merkle). Order of writes for a batch: (1) the batch row,
its root and its claims with the owners the registry credits, (2) the signed transaction with its hash
and nonce, (3) the broadcast, (4) the confirmation. A restart finds every batch that is not confirmed:
one never signed is dropped and its claims pend again; one signed is looked up by hash and, if the node
has no trace of it, broadcast again byte for byte (same nonce, same hash), so it can only ever be mined
once. The token contract refuses a second credit for a (device, day) in any case.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from sqlmodel import Session, col, select
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from contracts.chain import ContractRevert, Sender, SignedCall, TransactionReverted, decoded_reverts
from contracts.client import CreditContracts
from oracle.batching import BatchPlanner, BatchPolicy, ClaimLike, Group, MintingBlocked, PlannedBatch, named_by, packed
from oracle.errors import OracleError
from oracle.faults import crash_point
from oracle.store import BatchStatus, Claim, ClaimStatus, ConcurrentDecision, MintBatch, OracleStore, utc_now

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
"""How long a minter may go silent before another may take over (after a crash, the restarted minter
waits this long); renewed before every batch."""


class MinterBusy(OracleError):
    """Another minter holds the store's lease: only one may allocate the oracle account's nonces."""


@dataclass(frozen=True)
class MintResult:
    batch_id: int
    day: int
    chain_batch_id: int
    tx_hash: str
    claims: int
    grams: int
    gas_used: int


class Minter:
    """Turns pending claims into CreditToken.issueCredits transactions signed by the oracle's key."""

    def __init__(
        self,
        store: OracleStore,
        contracts: CreditContracts,
        sender: Sender,
        policy: BatchPolicy | None = None,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.contracts = contracts
        self.sender = sender
        self.lease_seconds = lease_seconds
        self.planner = BatchPlanner(store, contracts, policy or BatchPolicy())
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run(self, *, flush: bool = True) -> list[MintResult]:
        """Finish what a previous run left, then mint the pending claims: all of them with `flush`, else
        only the groups the batch policy says are due. Raises MinterBusy while another minter holds the
        store's lease. A group the chain refuses as a whole does not stop the others: MintingBlocked is
        raised after them, carrying what was minted."""
        self._renew_lease()
        blocked: list[MintingBlocked] = []
        try:
            results = self.reconcile()
            with self.store.session() as session:
                groups = self.planner.due_groups(session, flush=flush)
            for group in groups:
                try:
                    while (batch_id := self._prepare_batch(group)) is not None:
                        result = self._sign_and_send(batch_id)
                        if result is not None:
                            results.append(result)
                        self._renew_lease()
                except MintingBlocked as exc:
                    blocked.append(exc)
            if blocked:
                raise MintingBlocked("; ".join(dict.fromkeys(str(exc) for exc in blocked)), minted=results)
            return results
        finally:
            self.store.release_lease(self.holder)

    def _renew_lease(self) -> None:
        if not self.store.take_lease(self.holder, self.lease_seconds):
            raise MinterBusy("another minter is running on this store; only one may allocate nonces")

    # -- steps ------------------------------------------------------------------------------------

    def _prepare_batch(self, group: Group) -> int | None:
        """Write a batch of the group's next pending claims, with the owners the registry credits and the
        Merkle root of the claims; hold the claims the registry refuses. None when none pend."""
        with self.store.session() as session:
            while claims := self.planner.pending(session, group):
                planned, refusals = self.planner.plan(claims)
                for refusal in refusals:
                    self._hold(session, refusal.claims, refusal.revert)
                if planned is None:
                    session.commit()
                    continue
                try:
                    return self._write_batch(session, planned)
                except ConcurrentDecision:
                    # A report decided meanwhile held one of these claims (an odometer gap after a
                    # car-free day): plan again from what pends now.
                    session.rollback()
            return None

    def _write_batch(self, session: Session, planned: PlannedBatch) -> int:
        """Record a planned batch and put its claims into it, in one transaction."""
        batch = MintBatch(
            methodology_id=planned.methodology_id,
            day=planned.day,
            evidence_root="0x" + planned.tree.root.hex(),
            claims=len(planned.claims),
            grams=planned.grams,
        )
        session.add(batch)
        session.flush()
        assert batch.id is not None
        owners = {claim.id: owner for claim, owner in zip(planned.claims, planned.owners, strict=True)}
        self.store.batch_claims(session, batch.id, owners)
        session.commit()
        crash_point("batch-prepared")
        return batch.id

    def _sign_and_send(self, batch_id: int) -> MintResult | None:
        with self.store.session() as session:
            batch = session.get_one(MintBatch, batch_id)
            claims = _claims_of(session, batch_id)
            call = issue_call(self.contracts, batch.methodology_id, batch.day, batch.evidence_root, packed(claims))
            try:
                signed = self.sender.sign(call)
            except ContractRevert as revert:
                named = named_by(revert, claims)  # before failing the batch forgets the claims' owners
                self._fail_batch(session, batch, claims, str(revert))
                self._hold_named(session, named, revert)
                return None
            batch.status = BatchStatus.SENT
            batch.nonce = signed.nonce
            batch.tx_hash = signed.tx_hash
            batch.raw_tx = "0x" + signed.raw.hex()
            batch.updated_at = utc_now()
            session.commit()
        crash_point("batch-signed")
        log.info("batch %s: sending %s credits (%s g) in %s", batch_id, batch.claims, batch.grams, signed.tx_hash)
        self.sender.broadcast(signed)
        crash_point("batch-broadcast")
        try:
            receipt = self.sender.wait(signed.tx_hash)
        except TransactionReverted as reverted:
            self._failed(batch_id, str(reverted))
            return None
        return self._confirm(batch_id, receipt)

    @staticmethod
    def _fail_batch(session: Session, batch: MintBatch, claims: list[Claim], error: str) -> None:
        """Nothing of the batch was minted: it is closed, and its claims pend again."""
        batch.status = BatchStatus.FAILED
        batch.error = error
        batch.updated_at = utc_now()
        for claim in claims:
            claim.batch_id = None
            claim.owner = None
            claim.status = ClaimStatus.PENDING
        session.commit()

    def _hold_named(self, session: Session, named: list[Claim], revert: ContractRevert) -> None:
        """The chain refused the batch. Hold the claims its error names for an operator, so the others can
        be minted; if it names none, stop: the problem is not in the claims (a missing role, an inactive
        methodology, the rate limit)."""
        self._hold(session, named, revert)
        session.commit()
        if not named:
            raise MintingBlocked(f"the token refuses to mint: {revert}")

    def _hold(self, session: Session, claims: Sequence[ClaimLike], revert: ContractRevert) -> None:
        for claim in claims:
            log.warning("holding the claim of %s for day %s: %s", claim.device, claim.day, revert)
        ids = [claim.id for claim in claims if claim.id is not None]
        self.store.hold_claims(session, ids, f"refused by the chain: {revert}")

    def _confirm(self, batch_id: int, receipt: TxReceipt) -> MintResult:
        issued = self.contracts.token.events.CreditsIssued().process_receipt(receipt, errors=DISCARD)
        with self.store.session() as session:
            batch = session.get_one(MintBatch, batch_id)
            batch.status = BatchStatus.CONFIRMED
            batch.block_number = receipt["blockNumber"]
            batch.chain_batch_id = issued[0]["args"]["batchId"]
            batch.updated_at = utc_now()
            for claim in _claims_of(session, batch_id):
                claim.status = ClaimStatus.MINTED
            session.commit()
            crash_point("batch-confirmed")
            assert batch.tx_hash is not None and batch.chain_batch_id is not None
            log.info(
                "batch %s confirmed in block %s as on-chain batch %s",
                batch_id,
                batch.block_number,
                batch.chain_batch_id,
            )
            return MintResult(
                batch_id, batch.day, batch.chain_batch_id, batch.tx_hash, batch.claims, batch.grams, receipt["gasUsed"]
            )

    def _failed(self, batch_id: int, error: str) -> None:
        """The transaction was mined but reverted: nothing was minted, so the claims pend again."""
        with self.store.session() as session:
            batch = session.get_one(MintBatch, batch_id)
            self._fail_batch(session, batch, _claims_of(session, batch_id), error)
        log.warning("batch %s failed: %s", batch_id, error)

    # -- restart ----------------------------------------------------------------------------------

    def reconcile(self) -> list[MintResult]:
        """Settle every batch a previous run left unconfirmed, from what the chain says."""
        results: list[MintResult] = []
        with self.store.session() as session:
            open_batches = list(
                session.exec(
                    select(MintBatch)
                    .where(col(MintBatch.status).in_([BatchStatus.PREPARED, BatchStatus.SENT]))
                    .order_by(col(MintBatch.id))
                )
            )
        for batch in open_batches:
            assert batch.id is not None
            if batch.status is BatchStatus.PREPARED or batch.tx_hash is None or batch.raw_tx is None:
                self._failed(batch.id, "abandoned before its transaction was signed")
                continue
            receipt = self._receipt(batch.tx_hash)
            if receipt is None and batch.nonce is not None and batch.nonce < self._mined_nonces():
                # Another transaction of this account took the nonce: this one can never be mined.
                self._failed(batch.id, f"nonce {batch.nonce} was used by another transaction; nothing was minted")
                continue
            if receipt is None:
                log.info("batch %s: node does not know %s; broadcasting it again", batch.id, batch.tx_hash)
                signed = SignedCall(batch.tx_hash, batch.nonce or 0, bytes(HexBytes(batch.raw_tx)))
                try:
                    receipt = self.sender.send(signed)
                except TransactionReverted as reverted:
                    self._failed(batch.id, str(reverted))
                    continue
            if receipt["status"] == 1:
                results.append(self._confirm(batch.id, receipt))
            else:
                self._failed(batch.id, f"transaction {batch.tx_hash} reverted")
        return results

    def _mined_nonces(self) -> int:
        return self.contracts.w3.eth.get_transaction_count(self.sender.address, "latest")

    def _receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return self.contracts.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None


def issue_call(
    contracts: CreditContracts, methodology_id: int, day: int, root: str, credits: bytes
) -> ContractFunction:
    """CreditToken.issueCredits for one batch."""
    return contracts.token.functions.issueCredits(methodology_id, day, HexBytes(root), credits)


def simulate_mint(contracts: CreditContracts, account: str, batch: PlannedBatch) -> ContractRevert | None:
    """Static-call a planned batch's mint from `account`: None if the token would accept it, else why not."""
    call = issue_call(contracts, batch.methodology_id, batch.day, "0x" + batch.tree.root.hex(), batch.credits)
    try:
        with decoded_reverts():
            call.call({"from": to_checksum_address(account)})
    except ContractRevert as revert:
        return revert
    return None


def _claims_of(session: Session, batch_id: int) -> list[Claim]:
    """A batch's claims in device-index order: the order of its credits and of its Merkle leaves."""
    return list(session.exec(select(Claim).where(Claim.batch_id == batch_id).order_by(col(Claim.device_index))))
