"""Mint pending claims in batches, crash-safe.

Order of writes for a batch: (1) the batch row and its claims, (2) the signed transaction with its hash
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

from eth_utils import keccak
from hexbytes import HexBytes
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from contracts.chain import ContractRevert, Sender, SignedCall, TransactionReverted
from contracts.client import Credit, CreditContracts
from oracle.errors import OracleError
from oracle.store import BatchStatus, Claim, ClaimStatus, MintBatch, OracleStore, utc_now

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
LEASE_SECONDS = 60
"""How long a minter may go silent before another may take over (after a crash, the restarted minter
waits this long); renewed before every batch."""


class MinterBusy(OracleError):
    """Another minter holds the store's lease: only one may allocate the oracle account's nonces."""


class MintingBlocked(OracleError):
    """The chain refuses the whole batch for a reason no claim explains (a missing role, an inactive
    methodology): an operator must act. The claims stay pending."""


@dataclass(frozen=True)
class MintResult:
    batch_id: int
    chain_batch_id: int
    tx_hash: str
    claims: int
    grams: int
    gas_used: int


def evidence_hash(digests: Sequence[str]) -> bytes:
    """keccak256 of the credited reports' EIP-712 digests, concatenated in credit order."""
    return keccak(b"".join(bytes.fromhex(digest[2:]) for digest in digests))


class Minter:
    """Turns pending claims into CreditToken.issueCredits transactions signed by the oracle's key."""

    def __init__(
        self, store: OracleStore, contracts: CreditContracts, sender: Sender, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.store = store
        self.contracts = contracts
        self.sender = sender
        self.batch_size = batch_size
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run(self) -> list[MintResult]:
        """Finish what a previous run left, then mint every pending claim. Raises MinterBusy while
        another minter holds the store's lease."""
        self._renew_lease()
        try:
            results = self.reconcile()
            while (batch_id := self._prepare_batch()) is not None:
                result = self._sign_and_send(batch_id)
                if result is not None:
                    results.append(result)
                self._renew_lease()
            return results
        finally:
            self.store.release_lease(self.holder)

    def _renew_lease(self) -> None:
        if not self.store.take_lease(self.holder, LEASE_SECONDS):
            raise MinterBusy("another minter is running on this store; only one may allocate nonces")

    # -- steps ------------------------------------------------------------------------------------

    def _prepare_batch(self) -> int | None:
        """Write a batch of up to `batch_size` pending claims of one methodology; None if none pend."""
        with self.store.session() as session:
            first = session.exec(_pending().limit(1)).first()
            if first is None:
                return None
            claims = list(
                session.exec(_pending().where(Claim.methodology_id == first.methodology_id).limit(self.batch_size))
            )
            claims.sort(key=lambda claim: (claim.device, claim.day))
            batch = MintBatch(
                methodology_id=first.methodology_id,
                evidence_hash="0x" + evidence_hash([claim.digest for claim in claims]).hex(),
                claims=len(claims),
                grams=sum(claim.grams for claim in claims),
            )
            session.add(batch)
            session.flush()
            for claim in claims:
                claim.status = ClaimStatus.BATCHED
                claim.batch_id = batch.id
            session.commit()
            return batch.id

    def _sign_and_send(self, batch_id: int) -> MintResult | None:
        with self.store.session() as session:
            batch = session.get_one(MintBatch, batch_id)
            claims = _claims_of(session, batch_id)
            call = self.contracts.token.functions.issueCredits(
                batch.methodology_id,
                HexBytes(batch.evidence_hash),
                [Credit(claim.device, claim.day, claim.grams).as_tuple() for claim in claims],  # type: ignore[arg-type]
            )
            try:
                signed = self.sender.sign(call)
            except ContractRevert as revert:
                self._refused(session, batch, claims, revert)
                return None
            batch.status = BatchStatus.SENT
            batch.nonce = signed.nonce
            batch.tx_hash = signed.tx_hash
            batch.raw_tx = "0x" + signed.raw.hex()
            batch.updated_at = utc_now()
            session.commit()
        log.info("batch %s: sending %s credits (%s g) in %s", batch_id, batch.claims, batch.grams, signed.tx_hash)
        try:
            receipt = self.sender.send(signed)
        except TransactionReverted as reverted:
            self._failed(batch_id, str(reverted))
            return None
        return self._confirm(batch_id, receipt)

    def _refused(self, session: Session, batch: MintBatch, claims: list[Claim], revert: ContractRevert) -> None:
        """The static call reverted. Hold the claims the error names and retry the rest; if it names
        none, stop: the problem is not in the claims."""
        device = revert.args_by_name.get("device")
        day = revert.args_by_name.get("day")
        named = [c for c in claims if c.device == device and (day is None or c.day == day)]
        batch.status = BatchStatus.FAILED
        batch.error = str(revert)
        batch.updated_at = utc_now()
        for claim in claims:
            claim.batch_id = None
            claim.status = ClaimStatus.PENDING
        for claim in named:
            claim.status = ClaimStatus.HELD
            claim.note = f"refused by the chain: {revert}"
            log.warning("holding claim %s (%s, day %s): %s", claim.id, claim.device, claim.day, revert)
        session.commit()
        if not named:
            raise MintingBlocked(f"the token refuses to mint: {revert}")

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
            assert batch.tx_hash is not None and batch.chain_batch_id is not None
            log.info(
                "batch %s confirmed in block %s as on-chain batch %s",
                batch_id,
                batch.block_number,
                batch.chain_batch_id,
            )
            return MintResult(
                batch_id, batch.chain_batch_id, batch.tx_hash, batch.claims, batch.grams, receipt["gasUsed"]
            )

    def _failed(self, batch_id: int, error: str) -> None:
        """The transaction was mined but reverted: nothing was minted, so the claims pend again."""
        with self.store.session() as session:
            batch = session.get_one(MintBatch, batch_id)
            batch.status = BatchStatus.FAILED
            batch.error = error
            batch.updated_at = utc_now()
            for claim in _claims_of(session, batch_id):
                claim.status = ClaimStatus.PENDING
                claim.batch_id = None
            session.commit()
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


def _pending() -> SelectOfScalar[Claim]:
    return select(Claim).where(Claim.status == ClaimStatus.PENDING).order_by(col(Claim.id))


def _claims_of(session: Session, batch_id: int) -> list[Claim]:
    claims = session.exec(select(Claim).where(Claim.batch_id == batch_id)).all()
    return sorted(claims, key=lambda claim: (claim.device, claim.day))
