"""Reads on the index, returning API models. No HTTP here: routes turn `None` into a 404."""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from eth_utils import keccak
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.indexer import ZERO_ADDRESS
from backend.market import Offer
from backend.models import (
    Account,
    BlockRecord,
    CreditedDay,
    Device,
    EventRecord,
    FillRecord,
    IndexerState,
    ListingRecord,
    MintBatchRecord,
    RetirementRecord,
    Totals,
    TransferRecord,
)
from backend.schemas import (
    AccountPublic,
    Amount,
    BatchPublic,
    CertificatePublic,
    ContractPublic,
    ContractsPublic,
    CreditedDayPublic,
    DailyStatPublic,
    DeviceDetail,
    DevicePublic,
    ListingPublic,
    MethodologyPublic,
    Page,
    RetirementPublic,
    StatsPublic,
    TransferPublic,
)
from contracts.client import Deployment, DeviceStatus, VehicleClass, day_label

TRANSFER_KINDS = ("mint", "transfer", "burn")


def account(session: Session, address: str) -> AccountPublic:
    """An address's totals; an address the chain never saw has zeros everywhere."""
    row = session.get(Account, address) or Account(address=address)
    return AccountPublic(
        address=address,
        balance=Amount.of(row.balance),
        minted=Amount.of(row.minted),
        bought=Amount.of(row.bought),
        sold=Amount.of(row.sold),
        retired=Amount.of(row.retired),
    )


def history(
    session: Session,
    address: str,
    *,
    limit: int,
    offset: int,
    kind: str | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
) -> Page[TransferPublic]:
    """Credits in and out of an address, newest first; `kind` is mint, transfer or burn."""
    sender, recipient = col(TransferRecord.sender), col(TransferRecord.recipient)
    where = [or_(sender == address, recipient == address)]
    if kind == "mint":
        where.append(sender == ZERO_ADDRESS)
    elif kind == "burn":
        where.append(recipient == ZERO_ADDRESS)
    elif kind == "transfer":
        where += [sender != ZERO_ADDRESS, recipient != ZERO_ADDRESS]
    if from_block is not None:
        where.append(col(TransferRecord.block_number) >= from_block)
    if to_block is not None:
        where.append(col(TransferRecord.block_number) <= to_block)
    count = session.exec(select(func.count()).select_from(TransferRecord).where(*where)).one()
    rows = session.exec(
        select(TransferRecord)
        .where(*where)
        .order_by(col(TransferRecord.block_number).desc(), col(TransferRecord.log_index).desc())
        .offset(offset)
        .limit(limit)
    )
    return Page(data=[_transfer(row) for row in rows], count=count)


def devices_of(session: Session, owner: str) -> list[DevicePublic]:
    devices = session.exec(select(Device).where(Device.owner == owner).order_by(col(Device.index)))
    return [_device(session, device) for device in devices]


def devices(session: Session, *, owner: str | None, status: str | None, limit: int, offset: int) -> Page[DevicePublic]:
    """Registered devices in the order they were registered."""
    where = []
    if owner is not None:
        where.append(col(Device.owner) == owner)
    if status is not None:
        where.append(col(Device.status) == DeviceStatus[status.upper()].value)
    count = session.exec(select(func.count()).select_from(Device).where(*where)).one()
    rows = session.exec(select(Device).where(*where).order_by(col(Device.index)).offset(offset).limit(limit))
    return Page(data=[_device(session, row) for row in rows], count=count)


def credited_days_of(session: Session, owner: str, *, from_day: int, to_day: int) -> list[CreditedDayPublic]:
    """Each device-day credited to `owner` (for a driver's chart), oldest first."""
    rows = session.exec(
        select(CreditedDay)
        .where(col(CreditedDay.owner) == owner, col(CreditedDay.day) >= from_day, col(CreditedDay.day) <= to_day)
        .order_by(col(CreditedDay.day), col(CreditedDay.device))
    )
    return [_credited_day(row) for row in rows]


def device(session: Session, address: str) -> DeviceDetail | None:
    row = session.get(Device, address)
    if row is None:
        return None
    days = _credited_days(session, address)
    summary = _device(session, row, days)
    return DeviceDetail(
        **summary.model_dump(),
        days=[_credited_day(day) for day in days],
    )


def open_listings(session: Session, *, limit: int, offset: int, seller: str | None = None) -> Page[ListingPublic]:
    """Listings with credits left, cheapest first."""
    where = [col(ListingRecord.status) == "open"]
    if seller is not None:
        where.append(col(ListingRecord.seller) == seller)
    count = session.exec(select(func.count()).select_from(ListingRecord).where(*where)).one()
    rows = session.exec(
        select(ListingRecord)
        .where(*where)
        .order_by(col(ListingRecord.price_per_kg), col(ListingRecord.listing_id))
        .offset(offset)
        .limit(limit)
    )
    return Page(data=[_listing(row) for row in rows], count=count)


def cheapest_offers(session: Session, grams: int, *, limit: int, excluding: str | None = None) -> list[Offer]:
    """Open listings, cheapest first, until they hold `grams` or `limit` + 1 of them are read (one more
    than an order may take, so that a caller can tell an order would need too many)."""
    where = [col(ListingRecord.status) == "open"]
    if excluding is not None:
        where.append(col(ListingRecord.seller) != excluding)
    query = select(ListingRecord).where(*where).order_by(col(ListingRecord.price_per_kg), col(ListingRecord.listing_id))
    offers: list[Offer] = []
    held = 0
    for row in session.exec(query.execution_options(yield_per=200)):
        offers.append(Offer(row.listing_id, row.seller, row.remaining, row.price_per_kg))
        held += row.remaining
        if held >= grams or len(offers) > limit:
            break
    return offers


def retirements(session: Session, *, limit: int, offset: int, account: str | None = None) -> Page[RetirementPublic]:
    where = [] if account is None else [col(RetirementRecord.account) == account]
    count = session.exec(select(func.count()).select_from(RetirementRecord).where(*where)).one()
    rows = session.exec(
        select(RetirementRecord)
        .where(*where)
        .order_by(col(RetirementRecord.retirement_id).desc())
        .offset(offset)
        .limit(limit)
    )
    return Page(data=[_retirement(row) for row in rows], count=count)


def retirement(session: Session, retirement_id: int) -> RetirementPublic | None:
    row = session.get(RetirementRecord, retirement_id)
    return None if row is None else _retirement(row)


CERTIFICATE_BATCHES = 50
"""At most this many mint batches are named on a certificate (the newest before the retirement)."""


def certificate(session: Session, retirement_id: int, deployment: Deployment) -> CertificatePublic | None:
    """A retirement with the accounts and mint batches its credits came from, and how to verify it.

    Sources: a buy-and-retire's credits came out of the listings it filled, so their sellers; a retirement
    from an account's own balance came from what it was minted, bought or sent before, so the account
    itself, the sellers it bought from and the accounts that sent it credits."""
    row = session.get(RetirementRecord, retirement_id)
    if row is None:
        return None
    same_transaction = session.exec(select(FillRecord.seller).where(col(FillRecord.tx_hash) == row.tx_hash)).all()
    if same_transaction:
        sources = sorted(set(same_transaction))
    else:
        before = col(FillRecord.block_number) <= row.block_number
        sellers = session.exec(select(FillRecord.seller).where(col(FillRecord.buyer) == row.account, before)).all()
        senders = session.exec(
            select(TransferRecord.sender).where(
                col(TransferRecord.recipient) == row.account,
                col(TransferRecord.sender) != ZERO_ADDRESS,
                col(TransferRecord.sender) != deployment.market,
                col(TransferRecord.block_number) <= row.block_number,
            )
        ).all()
        sources = [row.account, *sorted(set(sellers) | set(senders) - {row.account})]
    batch_ids = session.exec(
        select(CreditedDay.batch_id)
        .join(MintBatchRecord, col(MintBatchRecord.batch_id) == col(CreditedDay.batch_id))
        .where(col(CreditedDay.owner).in_(sources), col(MintBatchRecord.block_number) <= row.block_number)
        .distinct()
        .order_by(col(CreditedDay.batch_id).desc())
        .limit(CERTIFICATE_BATCHES)
    ).all()
    uris = {method.methodology_id: method.uri for method in methodologies(session)}
    batches = session.exec(
        select(MintBatchRecord)
        .where(col(MintBatchRecord.batch_id).in_(batch_ids))
        .order_by(col(MintBatchRecord.batch_id))
    ).all()
    return CertificatePublic(
        **_retirement(row).model_dump(),
        sources=sources,
        batches=[_batch(batch, uris.get(batch.methodology_id)) for batch in batches],
        verify={
            "chainId": deployment.chain_id,
            "token": deployment.token,
            "call": f"CreditToken.retirement({retirement_id})",
            "event": "CreditsRetired(uint256 indexed retirementId, address indexed account, …)",
            "txHash": row.tx_hash,
            "blockNumber": row.block_number,
            "evidence": "CreditToken.verifyCredit(batchId, device, day, owner, grams, reportDigest, proof) "
            "checks a credit of a batch against its evidence root",
        },
    )


def stats(session: Session) -> StatsPublic:
    totals = session.get(Totals, 1) or Totals()

    def count(*where: object) -> int:
        return session.exec(select(func.count()).select_from(*where)).one()  # type: ignore[arg-type]

    return StatsPublic(
        minted=Amount.of(totals.issued),
        retired=Amount.of(totals.retired),
        circulating=Amount.of(totals.issued - totals.retired),
        drivers=session.exec(select(func.count(func.distinct(Device.owner)))).one(),
        devices=count(Device),
        credited_days=count(CreditedDay),
        open_listings=session.exec(
            select(func.count()).select_from(ListingRecord).where(ListingRecord.status == "open")
        ).one(),
        retirements=count(RetirementRecord),
    )


def daily_stats(session: Session, from_day: int, to_day: int) -> list[DailyStatPublic]:
    """Per UTC day from `from_day` to `to_day`: grams credited for the day, grams retired and traded in
    its blocks, drivers credited and the average price. Summed here: SQLite keeps uint256 as text."""
    minted: dict[int, int] = defaultdict(int)
    drivers: dict[int, set[str]] = defaultdict(set)
    for day, owner, grams in session.exec(
        select(CreditedDay.day, CreditedDay.owner, CreditedDay.grams).where(
            col(CreditedDay.day) >= from_day, col(CreditedDay.day) <= to_day
        )
    ):
        minted[day] += grams
        drivers[day].add(owner)
    retired: dict[int, int] = defaultdict(int)
    for moment, amount in session.exec(select(RetirementRecord.retired_at, RetirementRecord.amount)):
        retired[_day_of(moment)] += amount
    traded: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    for moment, amount, price in session.exec(
        select(BlockRecord.timestamp, FillRecord.amount, FillRecord.price).join(
            BlockRecord, col(BlockRecord.number) == col(FillRecord.block_number)
        )
    ):
        day = _day_of(moment)
        traded[day] += amount
        paid[day] += price
    return [
        DailyStatPublic(
            date=day_label(day),
            minted=Amount.of(minted[day]),
            retired=Amount.of(retired[day]),
            active_drivers=len(drivers[day]),
            traded=Amount.of(traded[day]),
            average_price_per_kg_wei=str(paid[day] * 1000 // traded[day]) if traded[day] else None,
        )
        for day in range(from_day, to_day + 1)
    ]


ROLE_NAMES = {
    "0x" + "00" * 32: "DEFAULT_ADMIN_ROLE",
    **{"0x" + keccak(text=name).hex(): name for name in ("ORACLE_ROLE", "PAUSER_ROLE", "REGISTRAR_ROLE")},
}


def methodologies(session: Session) -> list[MethodologyPublic]:
    found: dict[int, MethodologyPublic] = {}
    for event in _events(session, "MethodologyRegistered", "MethodologyStatusChanged"):
        args = json.loads(event.args)
        methodology_id = int(args["methodologyId"])
        if event.name == "MethodologyRegistered":
            found[methodology_id] = MethodologyPublic(
                methodology_id=methodology_id,
                params_hash=args["paramsHash"],
                max_grams_per_device_day=int(args["maxGramsPerDeviceDay"]),
                uri=args["uri"],
                active=True,
            )
        elif methodology_id in found:
            found[methodology_id].active = bool(args["active"])
    return [found[key] for key in sorted(found)]


def contract_state(session: Session, deployment: Deployment) -> ContractsPublic:
    """Pauses, roles, the fee and the methodologies, as the indexed events set them."""
    names = {"DeviceRegistry": "registry", "CreditToken": "token", "CreditMarket": "market"}
    paused = dict.fromkeys(names.values(), False)
    roles: dict[str, dict[str, set[str]]] = {name: defaultdict(set) for name in names.values()}
    fee_bps, fee_recipient = 0, None
    for event in _events(session, "Paused", "Unpaused", "RoleGranted", "RoleRevoked", "FeeChanged"):
        args, contract = json.loads(event.args), names[event.contract]
        if event.name in ("Paused", "Unpaused"):
            paused[contract] = event.name == "Paused"
        elif event.name == "FeeChanged":
            fee_bps, fee_recipient = int(args["feeBps"]), args["recipient"]
        else:
            members = roles[contract][ROLE_NAMES.get(args["role"], args["role"])]
            (members.add if event.name == "RoleGranted" else members.discard)(args["account"])
    addresses = {"registry": deployment.registry, "token": deployment.token, "market": deployment.market}
    contracts = {
        name: ContractPublic(
            address=addresses[name],
            paused=paused[name],
            roles={role: sorted(members) for role, members in sorted(roles[name].items()) if members},
        )
        for name in addresses
    }
    return ContractsPublic(
        chain_id=deployment.chain_id,
        deployment_block=deployment.block,
        fee_bps=fee_bps,
        fee_recipient=fee_recipient if fee_bps else None,
        methodologies=methodologies(session),
        **contracts,
    )


def indexed_block(session: Session) -> int | None:
    state = session.get(IndexerState, 1)
    return None if state is None else state.last_block


def indexed_supply(session: Session) -> int:
    """The sum of all indexed balances. Summed here, not in SQL: SQLite stores uint256 as text."""
    return sum(balance for balance in session.exec(select(Account.balance)))


# -------------------------------------------------------------------------------------- helpers


def _events(session: Session, *names: str) -> Iterator[EventRecord]:
    yield from session.exec(
        select(EventRecord)
        .where(col(EventRecord.name).in_(names))
        .order_by(col(EventRecord.block_number), col(EventRecord.log_index))
    )


def _day_of(moment: datetime) -> int:
    """The UTC day number of a stored time (naive ones are UTC)."""
    return calendar.timegm(moment.utctimetuple()) // 86_400


def _credited_day(row: CreditedDay) -> CreditedDayPublic:
    return CreditedDayPublic(
        day=row.day,
        date=day_label(row.day),
        device=row.device,
        grams=Amount.of(row.grams),
        batch_id=row.batch_id,
        methodology_id=row.methodology_id,
        tx_hash=row.tx_hash,
    )


def _batch(row: MintBatchRecord, uri: str | None) -> BatchPublic:
    return BatchPublic(
        batch_id=row.batch_id,
        methodology_id=row.methodology_id,
        methodology_uri=uri,
        day=row.day,
        date=day_label(row.day),
        credits=row.credits,
        grams=Amount.of(row.grams),
        evidence_root=row.evidence_root,
        tx_hash=row.tx_hash,
        block_number=row.block_number,
    )


def _credited_days(session: Session, device: str) -> list[CreditedDay]:
    return list(session.exec(select(CreditedDay).where(CreditedDay.device == device).order_by(col(CreditedDay.day))))


def _device(session: Session, row: Device, days: list[CreditedDay] | None = None) -> DevicePublic:
    days = _credited_days(session, row.address) if days is None else days
    return DevicePublic(
        address=row.address,
        owner=row.owner,
        owner_since=row.owner_since,
        vehicle_class=VehicleClass(row.vehicle_class).name.lower(),
        status=DeviceStatus(row.status).name.lower(),
        credited_days=len(days),
        credited=Amount.of(sum(day.grams for day in days)),
    )


def _transfer(row: TransferRecord) -> TransferPublic:
    kind = "mint" if row.sender == ZERO_ADDRESS else "burn" if row.recipient == ZERO_ADDRESS else "transfer"
    return TransferPublic(
        kind=kind,
        sender=row.sender,
        recipient=row.recipient,
        amount=Amount.of(row.amount),
        block_number=row.block_number,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
    )


def _listing(row: ListingRecord) -> ListingPublic:
    return ListingPublic(
        listing_id=row.listing_id,
        seller=row.seller,
        amount=Amount.of(row.amount),
        remaining=Amount.of(row.remaining),
        price_per_kg_wei=str(row.price_per_kg),
        status=row.status,
    )


def _retirement(row: RetirementRecord) -> RetirementPublic:
    return RetirementPublic(
        retirement_id=row.retirement_id,
        account=row.account,
        amount=Amount.of(row.amount),
        beneficiary=row.beneficiary,
        purpose=row.purpose,
        period_start=day_label(row.period_start) if row.period_end else None,
        period_end=day_label(row.period_end) if row.period_end else None,
        retired_at=row.retired_at,
        block_number=row.block_number,
        tx_hash=row.tx_hash,
    )
