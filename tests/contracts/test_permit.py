"""EIP-2612 permits on the credit token (OpenZeppelin's ERC20Permit): a driver signs an approval
off-line and anyone can submit it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from contracts.client import CreditContracts
from oracle.signatures import SECP256K1_N
from tests.conftest import Actors, SenderFor
from tests.helpers import reverts

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def sign_permit(
    contracts: CreditContracts,
    owner: LocalAccount,
    spender: str,
    value: int,
    deadline: int,
    chain_id: int | None = None,
) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a permit, signed for the token's domain (or for `chain_id`, to fake another chain)."""
    _, name, version, domain_chain_id, verifying_contract, _, _ = contracts.token.functions.eip712Domain().call()
    domain = {
        "name": name,
        "version": version,
        "chainId": chain_id or domain_chain_id,
        "verifyingContract": verifying_contract,
    }
    nonce = contracts.token.functions.nonces(owner.address).call()
    message = {"owner": owner.address, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline}
    signed = Account.sign_typed_data(owner.key, domain, PERMIT_TYPES, message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


@pytest.fixture
def deadline(contracts: CreditContracts) -> int:
    return int(contracts.w3.eth.get_block("latest")["timestamp"]) + 3600


def test_a_signed_permit_sets_the_allowance_and_is_used_once(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, deadline: int
) -> None:
    v, r, s = sign_permit(contracts, actors.driver, actors.buyer.address, 1234, deadline)
    permit = contracts.token.functions.permit(actors.driver.address, actors.buyer.address, 1234, deadline, v, r, s)
    receipt = sender("stranger").transact(permit)  # anyone may submit it: a relay, the market, the buyer
    (approval,) = contracts.token.events.Approval().process_receipt(receipt, errors=DISCARD)
    assert (approval.args.owner, approval.args.spender, approval.args.value) == (
        actors.driver.address, actors.buyer.address, 1234
    )  # fmt: skip
    assert contracts.token.functions.allowance(actors.driver.address, actors.buyer.address).call() == 1234
    assert contracts.token.functions.nonces(actors.driver.address).call() == 1
    # Replayed, the same signature now recovers to someone else (the nonce moved on).
    with reverts("ERC2612InvalidSigner", owner=actors.driver.address):
        sender("stranger").transact(permit)


def test_an_expired_permit_is_refused(contracts: CreditContracts, actors: Actors, sender: SenderFor) -> None:
    past = int(contracts.w3.eth.get_block("latest")["timestamp"]) - 1
    v, r, s = sign_permit(contracts, actors.driver, actors.buyer.address, 1, past)
    with reverts("ERC2612ExpiredSignature", deadline=past):
        sender("stranger").transact(
            contracts.token.functions.permit(actors.driver.address, actors.buyer.address, 1, past, v, r, s)
        )


def test_malleable_and_zero_signatures_are_refused(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, deadline: int
) -> None:
    v, r, s = sign_permit(contracts, actors.driver, actors.buyer.address, 1, deadline)
    permit = contracts.token.functions.permit
    high_s = (SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big")
    with reverts("ECDSAInvalidSignatureS", s="0x" + high_s.hex()):
        sender("stranger").transact(permit(actors.driver.address, actors.buyer.address, 1, deadline, 55 - v, r, high_s))
    with reverts("ECDSAInvalidSignature"):
        sender("stranger").transact(
            permit(actors.driver.address, actors.buyer.address, 1, deadline, 27, bytes(32), bytes(32))
        )
    assert contracts.token.functions.nonces(actors.driver.address).call() == 0


@contextmanager
def chain_id_changed_to(contracts: CreditContracts, chain_id: int) -> Iterator[None]:
    """The same chain, state and contracts, under another chain id: what a chain split leaves behind."""
    chain = contracts.w3.provider.ethereum_tester.backend.chain  # type: ignore[attr-defined]
    original = chain.chain_id
    chain.chain_id = chain_id
    try:
        yield
    finally:
        chain.chain_id = original


def test_a_permit_signed_before_a_chain_id_change_cannot_be_replayed_after_it(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, deadline: int
) -> None:
    old_chain_id = contracts.w3.eth.chain_id
    v, r, s = sign_permit(contracts, actors.driver, actors.buyer.address, 500, deadline)
    with chain_id_changed_to(contracts, old_chain_id + 1):
        assert contracts.token.functions.eip712Domain().call()[3] == old_chain_id + 1  # the domain is rebuilt
        permit = contracts.token.functions.permit(actors.driver.address, actors.buyer.address, 500, deadline, v, r, s)
        with reverts("ERC2612InvalidSigner", owner=actors.driver.address):
            sender("stranger").transact(permit)
        # Signed for the new chain id, it works there.
        v, r, s = sign_permit(contracts, actors.driver, actors.buyer.address, 500, deadline)
        sender("stranger").transact(
            contracts.token.functions.permit(actors.driver.address, actors.buyer.address, 500, deadline, v, r, s)
        )
    assert contracts.token.functions.allowance(actors.driver.address, actors.buyer.address).call() == 500
