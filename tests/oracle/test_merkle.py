from __future__ import annotations

import pytest
from eth_utils import keccak

from contracts.client import CreditContracts
from oracle.merkle import CreditClaim, MerkleTree, verify

DEVICE = "0x1111111111111111111111111111111111111111"
OWNER = "0x2222222222222222222222222222222222222222"

VECTOR = [CreditClaim(DEVICE, 19_000 + i, OWNER, 1750, keccak(text=f"report {i}")) for i in range(3)]
VECTOR_LEAF_0 = "0xa0819f81c2c993e5a44cb5e76ea0e7330cae980464a2d2dfda201858ae80cd20"
VECTOR_ROOT = "0x74a6e37138be7afe261d568eb8b0ce1c5c6540d1f314bff76ea5faa82087e173"
"""The leaf of VECTOR[0] and the root of VECTOR: fixed points for any other implementation."""


def test_the_vector_holds() -> None:
    assert "0x" + VECTOR[0].leaf().hex() == VECTOR_LEAF_0
    assert "0x" + MerkleTree([claim.leaf() for claim in VECTOR]).root.hex() == VECTOR_ROOT


def test_the_token_hashes_leaves_exactly_as_python_does(contracts: CreditContracts) -> None:
    for claim in VECTOR:
        fields = (claim.device, claim.day, claim.owner, claim.grams, claim.report_digest)
        assert contracts.token.functions.creditLeaf(*fields).call() == claim.leaf()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8, 9, 500])
def test_every_leaf_has_a_proof_and_no_other_leaf_passes(size: int) -> None:
    leaves = [keccak(text=f"leaf {i}") for i in range(size)]
    tree = MerkleTree(leaves)
    for i, leaf in enumerate(leaves):
        assert verify(tree.proof(i), tree.root, leaf)
    assert not verify(tree.proof(0), tree.root, keccak(text="not a leaf"))
    assert len(tree.proof(0)) <= size.bit_length()


def test_a_single_leaf_is_its_own_root_and_an_empty_tree_is_refused() -> None:
    assert MerkleTree([b"\x07" * 32]).root == b"\x07" * 32
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree([])


def test_the_vector_root_is_sorted_pair_hashing_with_the_odd_leaf_promoted() -> None:
    l0, l1, l2 = (claim.leaf() for claim in VECTOR)
    pair = keccak(min(l0, l1) + max(l0, l1))
    assert "0x" + keccak(min(pair, l2) + max(pair, l2)).hex() == VECTOR_ROOT
