"""The Merkle tree of a mint batch's claims: the evidence root the token records, and proofs for anyone
who wants to check that a credit was issued for a given signed report.

Leaves are hashed as CreditToken.creditLeaf does: keccak256(keccak256(abi.encode(device, day, owner,
grams, reportDigest))), double-hashed as OpenZeppelin's StandardMerkleTree so that no leaf can pass for
an inner node. Inner nodes hash their two children in sorted order (OpenZeppelin's MerkleProof); a node
without a sibling moves up unchanged. Pure: bytes in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.hashing import address_word, keccak, uint_word


@dataclass(frozen=True)
class CreditClaim:
    """What one credit of a batch pays, and for which signed report."""

    device: str
    day: int
    owner: str
    grams: int
    report_digest: bytes

    def leaf(self) -> bytes:
        """keccak256(keccak256(abi.encode(device, day, owner, grams, reportDigest))): five static words."""
        if len(self.report_digest) != 32:
            raise ValueError(f"a report digest is 32 bytes, not {len(self.report_digest)}")
        encoded = b"".join(
            (
                address_word(self.device),
                uint_word(self.day),
                address_word(self.owner),
                uint_word(self.grams),
                self.report_digest,
            )
        )
        return keccak(keccak(encoded))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over leaves in the order given; `root` and `proof(i)` as MerkleProof.verify expects."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            level = self.levels[-1]
            parents = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                parents.append(level[-1])
            self.levels.append(parents)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The siblings from leaf `index` up to the root."""
        proof = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root
