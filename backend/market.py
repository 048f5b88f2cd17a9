"""What a purchase costs: the cheapest fill of an amount across open listings, priced exactly as the
market contract prices it. Pure: listings in, a fill out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.client import GRAMS_PER_KG


def price_of(grams: int, price_per_kg: int) -> int:
    """Wei for `grams` of a listing at `price_per_kg` wei per kg, rounded up to the next wei as
    CreditMarket does (Math.mulDiv(…, Ceil)): a seller is never paid less than asked."""
    return -(-grams * price_per_kg // GRAMS_PER_KG)


@dataclass(frozen=True)
class Offer:
    listing_id: int
    seller: str
    remaining: int
    price_per_kg: int


@dataclass(frozen=True)
class Take:
    """The grams taken from one listing, and their price in wei."""

    listing_id: int
    seller: str
    grams: int
    price: int
    price_per_kg: int


@dataclass(frozen=True)
class Fill:
    requested: int
    takes: tuple[Take, ...]

    @property
    def grams(self) -> int:
        return sum(take.grams for take in self.takes)

    @property
    def price(self) -> int:
        return sum(take.price for take in self.takes)

    @property
    def complete(self) -> bool:
        return self.grams == self.requested

    @property
    def listing_ids(self) -> list[int]:
        return [take.listing_id for take in self.takes]


def cheapest_fill(grams: int, offers: Iterable[Offer]) -> Fill:
    """Take `grams` from the cheapest offers first (older listings first at the same price); a fill
    that is not `complete` is all the offers hold."""
    takes: list[Take] = []
    left = grams
    for offer in sorted(offers, key=lambda offer: (offer.price_per_kg, offer.listing_id)):
        if left == 0:
            break
        take = min(left, offer.remaining)
        if take == 0:
            continue
        takes.append(Take(offer.listing_id, offer.seller, take, price_of(take, offer.price_per_kg), offer.price_per_kg))
        left -= take
    return Fill(grams, tuple(takes))
