from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from contracts.chain import Sender
from contracts.client import CreditContracts, DeviceStatus, VehicleClass, pack_credits, unpack_credits
from oracle.device import DeviceSigner
from oracle.merkle import CreditClaim, MerkleTree
from oracle.methodology import DailyFigures
from tests.conftest import Actors, SenderFor, register
from tests.helpers import issue, reverts

DAY = 19_000
ZERO = "0x" + "0" * 40


@pytest.fixture
def oracle(sender: SenderFor) -> Sender:
    return sender("oracle")


def test_one_token_is_a_kilogram_and_one_unit_a_gram(contracts: CreditContracts) -> None:
    token = contracts.token.functions
    assert (token.name().call(), token.symbol().call(), token.decimals().call()) == ("Green Travel Credit", "GTC", 3)


def test_a_batch_credits_each_device_day_to_the_owner_and_records_its_evidence(
    contracts: CreditContracts, actors: Actors, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    root = keccak(text="evidence")
    receipt = issue(contracts, oracle, DAY, (ev_device.address, 1750), (petrol_device.address, 2580), root=root)

    assert contracts.balance_of(actors.driver.address) == 1750
    assert contracts.balance_of(actors.other_driver.address) == 2580
    assert contracts.balance_of(ev_device.address) == 0  # never to the device's own address
    mints = contracts.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [(m.args["from"], m.args.to, m.args.value) for m in mints] == [
        (ZERO, actors.driver.address, 1750),
        (ZERO, actors.other_driver.address, 2580),
    ]
    (batch,) = contracts.token.events.CreditsIssued().process_receipt(receipt, errors=DISCARD)
    assert (batch.args.batchId, batch.args.methodologyId, batch.args.day) == (1, 1, DAY)
    assert (batch.args.evidenceRoot, batch.args.grams) == (root, 4330)
    assert unpack_credits(batch.args.credits) == [(0, 1750), (1, 2580)]
    assert contracts.token.functions.batchRoot(1).call() == root
    assert contracts.supply().issued == 4330
    assert contracts.token.functions.batchCount().call() == 1


def test_second_mint_for_the_same_device_day_reverts(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner
) -> None:
    issue(contracts, oracle, DAY, (ev_device.address, 1750))
    with reverts("CreditTokenDayAlreadyCredited", deviceIndex=0, day=DAY):
        issue(contracts, oracle, DAY, (ev_device.address, 1000))
    assert contracts.supply().issued == 1750


def test_the_same_device_day_twice_in_one_batch_reverts(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    with reverts("CreditTokenDayAlreadyCredited", deviceIndex=0, day=DAY):
        issue(contracts, oracle, DAY, (ev_device.address, 1), (petrol_device.address, 1), (ev_device.address, 1))


def test_the_guard_tells_device_days_apart(
    contracts: CreditContracts, actors: Actors, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    issue(contracts, oracle, DAY, (ev_device.address, 1750))
    assert contracts.is_credited(0, DAY)
    assert not contracts.is_credited(1, DAY)
    assert not contracts.is_credited(0, DAY + 1)
    issue(contracts, oracle, DAY, (petrol_device.address, 2580))
    issue(contracts, oracle, DAY + 1, (ev_device.address, 1750))
    assert contracts.balance_of(actors.driver.address) == 3500


def test_devices_in_different_words_of_the_guard_do_not_collide(
    contracts: CreditContracts, actors: Actors, oracle: Sender
) -> None:
    # Device 256 is the first of the guard's second word for a day; device 0 the first of the first.
    devices = [
        register(contracts, actors, f"fleet {i}", actors.driver, VehicleClass.BATTERY_ELECTRIC) for i in range(258)
    ]
    issue(contracts, oracle, DAY, (devices[0].address, 1))
    assert not contracts.is_credited(256, DAY)
    # Out of order and across words: 257, 1, 256 — each word is read and written back correctly.
    issue(contracts, oracle, DAY, (devices[257].address, 1), (devices[1].address, 1), (devices[256].address, 1))
    assert [contracts.is_credited(i, DAY) for i in (0, 1, 2, 255, 256, 257)] == [True, True, False, False, True, True]
    with reverts("CreditTokenDayAlreadyCredited", deviceIndex=256, day=DAY):
        issue(contracts, oracle, DAY, (devices[2].address, 1), (devices[256].address, 1))


def test_only_the_oracle_role_mints(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    oracle_role = contracts.role(contracts.token, "ORACLE_ROLE")
    with reverts("AccessControlUnauthorizedAccount", account=actors.driver.address, neededRole=oracle_role):
        issue(contracts, sender("driver"), DAY, (ev_device.address, 1750))


def test_a_mint_must_name_a_registered_active_methodology(
    contracts: CreditContracts, oracle: Sender, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    with reverts("CreditTokenUnknownMethodology", methodologyId=9):
        issue(contracts, oracle, DAY, (ev_device.address, 1750), methodology_id=9)
    receipt = sender("admin").transact(contracts.token.functions.setMethodologyActive(1, False))
    (changed,) = contracts.token.events.MethodologyStatusChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed.args.methodologyId, changed.args.active) == (1, False)
    with reverts("CreditTokenMethodologyInactive", methodologyId=1):
        issue(contracts, oracle, DAY, (ev_device.address, 1750))


def test_grams_are_bounded_by_the_methodology_ceiling(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner, methodology: DailyFigures
) -> None:
    ceiling = methodology.max_grams_per_device_day
    with reverts("CreditTokenAboveCeiling", deviceIndex=0, day=DAY, grams=ceiling + 1, ceiling=ceiling):
        issue(contracts, oracle, DAY, (ev_device.address, ceiling + 1))
    with reverts("CreditTokenZeroGrams", deviceIndex=0, day=DAY):
        issue(contracts, oracle, DAY, (ev_device.address, 0))
    issue(contracts, oracle, DAY, (ev_device.address, ceiling))


def test_malformed_or_empty_batches_revert(contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner) -> None:
    issue_credits = contracts.token.functions.issueCredits
    with reverts("CreditTokenEmptyBatch"):
        oracle.transact(issue_credits(1, DAY, b"\x01" * 32, b""))
    with reverts("DeviceRegistryMalformedCredits", length=7):
        oracle.transact(issue_credits(1, DAY, b"\x01" * 32, pack_credits([(0, 1750)])[:7]))
    with reverts("DeviceRegistryUnknownIndex", index=5):
        oracle.transact(issue_credits(1, DAY, b"\x01" * 32, pack_credits([(5, 1750)])))


def test_a_suspended_device_cannot_be_credited(
    contracts: CreditContracts, oracle: Sender, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    with reverts("DeviceRegistryDeviceNotActive", device=ev_device.address, status=DeviceStatus.SUSPENDED):
        issue(contracts, oracle, DAY, (ev_device.address, 1750))


def test_credits_can_never_be_minted_to_the_token_or_the_market(
    contracts: CreditContracts, actors: Actors, oracle: Sender
) -> None:
    for place in (contracts.deployment.token, contracts.deployment.market):
        device = register(contracts, actors, f"owned by {place}", place, VehicleClass.BATTERY_ELECTRIC)
        with reverts("CreditTokenInvalidRecipient", owner=place):
            issue(contracts, oracle, DAY, (device.address, 1750))


def test_a_day_is_credited_only_once_it_is_over(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner
) -> None:
    today = contracts.chain_day()
    for day in (today, today + 1, 2**32 - 1):
        with reverts("CreditTokenDayNotEnded", day=day, today=today):
            issue(contracts, oracle, day, (ev_device.address, 1750))
    issue(contracts, oracle, today - 1, (ev_device.address, 1750))


def test_the_rate_limit_caps_what_all_batches_issue_in_a_period(
    contracts: CreditContracts, actors: Actors, oracle: Sender, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    receipt = sender("admin").transact(contracts.token.functions.setMintRateLimit(3000, 86_400))
    (changed,) = contracts.token.events.MintRateLimitChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed.args.maxGramsPerPeriod, changed.args.periodSeconds) == (3000, 86_400)
    issue(contracts, oracle, DAY, (ev_device.address, 1750))
    with reverts("CreditTokenMintRateExceeded", requested=1750, available=1250):
        issue(contracts, oracle, DAY + 1, (ev_device.address, 1750))
    issue(contracts, oracle, DAY + 1, (ev_device.address, 1250))
    # The next period starts afresh.
    contracts.w3.testing.timeTravel(contracts.w3.eth.get_block("latest")["timestamp"] + 86_400)
    issue(contracts, oracle, DAY + 2, (ev_device.address, 1750))
    with reverts("CreditTokenInvalidRateLimit", maxGramsPerPeriod=0, periodSeconds=1):
        sender("admin").transact(contracts.token.functions.setMintRateLimit(0, 1))
    with reverts("AccessControlUnauthorizedAccount", account=actors.oracle.address):
        oracle.transact(contracts.token.functions.setMintRateLimit(10**12, 1))


def test_methodologies_are_registered_once_by_the_admin(
    contracts: CreditContracts, sender: SenderFor, actors: Actors
) -> None:
    # Versions 1 and 2 were published at deployment.
    register_v3 = contracts.token.functions.registerMethodology(3, keccak(text="v3"), 5000, "gtc:methodology/v3.json")
    admin_role = contracts.role(contracts.token, "DEFAULT_ADMIN_ROLE")
    with reverts("AccessControlUnauthorizedAccount", account=actors.oracle.address, neededRole=admin_role):
        sender("oracle").transact(register_v3)
    sender("admin").transact(register_v3)
    assert contracts.token.functions.methodology(3).call() == (keccak(text="v3"), 5000, True, "gtc:methodology/v3.json")
    with reverts("CreditTokenMethodologyExists", methodologyId=3):
        sender("admin").transact(register_v3)
    with reverts("CreditTokenZeroCeiling", methodologyId=4):
        sender("admin").transact(contracts.token.functions.registerMethodology(4, keccak(text="v4"), 0, ""))
    with reverts("CreditTokenTextTooLong", length=257, maxLength=256):
        sender("admin").transact(contracts.token.functions.registerMethodology(4, keccak(text="v4"), 1, "u" * 257))
    with reverts("CreditTokenUnknownMethodology", methodologyId=5):
        contracts.token.functions.methodology(5).call()
    with reverts("CreditTokenUnknownMethodology", methodologyId=5):
        sender("admin").transact(contracts.token.functions.setMethodologyActive(5, True))


# ---------------------------------------------------------------------------------------- evidence


def test_anyone_can_check_a_credit_against_its_batch_evidence(
    contracts: CreditContracts, actors: Actors, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    claims = [
        CreditClaim(ev_device.address, DAY, actors.driver.address, 1750, keccak(text="report 1")),
        CreditClaim(petrol_device.address, DAY, actors.other_driver.address, 2580, keccak(text="report 2")),
        CreditClaim(ev_device.address, DAY, actors.driver.address, 1750, keccak(text="report 3")),
    ]
    tree = MerkleTree([claim.leaf() for claim in claims])
    issue(contracts, oracle, DAY, (ev_device.address, 1750), (petrol_device.address, 2580), root=tree.root)
    verify = contracts.token.functions.verifyCredit
    for i, claim in enumerate(claims):
        assert contracts.token.functions.creditLeaf(*_fields(claim)).call() == claim.leaf()
        assert verify(1, *_fields(claim), tree.proof(i)).call()
    forged = CreditClaim(ev_device.address, DAY, actors.buyer.address, 1750, keccak(text="report 1"))
    assert not verify(1, *_fields(forged), tree.proof(0)).call()
    with reverts("CreditTokenUnknownBatch", batchId=2):
        verify(2, *_fields(claims[0]), tree.proof(0)).call()
    with reverts("CreditTokenUnknownBatch", batchId=0):
        contracts.token.functions.batchRoot(0).call()


def _fields(claim: CreditClaim) -> tuple[str, int, str, int, bytes]:
    return (claim.device, claim.day, claim.owner, claim.grams, claim.report_digest)


# ---------------------------------------------------------------------------------------- retirement


@pytest.fixture
def funded_driver(contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner) -> int:
    issue(contracts, oracle, DAY, (ev_device.address, 1750))
    issue(contracts, oracle, DAY + 1, (ev_device.address, 1750))
    return 3500


def test_retiring_burns_credits_and_numbers_the_record(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, funded_driver: int
) -> None:
    receipt = sender("driver").transact(
        contracts.token.functions.retire(1000, "Acme Bank", "Flights 2026", 20_454, 20_819)
    )

    (retired,) = contracts.token.events.CreditsRetired().process_receipt(receipt, errors=DISCARD)
    assert (retired.args.retirementId, retired.args.account, retired.args.amount) == (1, actors.driver.address, 1000)
    assert (retired.args.beneficiary, retired.args.purpose) == ("Acme Bank", "Flights 2026")
    assert (retired.args.periodStart, retired.args.periodEnd) == (20_454, 20_819)
    block = contracts.w3.eth.get_block(receipt["blockNumber"])
    assert contracts.token.functions.retirement(1).call() == (
        actors.driver.address, block["timestamp"], 20_454, 20_819, 1000, "Acme Bank", "Flights 2026"
    )  # fmt: skip
    (burn,) = contracts.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert (burn.args["from"], burn.args.to, burn.args.value) == (actors.driver.address, ZERO, 1000)
    supply = contracts.supply()
    assert (supply.issued, supply.circulating, supply.retired) == (3500, 2500, 1000)
    assert contracts.token.functions.retirementCount().call() == 1


def test_retired_credits_can_never_move_again(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, funded_driver: int
) -> None:
    driver = sender("driver")
    driver.transact(contracts.token.functions.retire(3000, "Acme Bank", "", 0, 0))
    with reverts("ERC20InsufficientBalance", sender=actors.driver.address, balance=500, needed=501):
        driver.transact(contracts.token.functions.transfer(actors.buyer.address, 501))
    with reverts("ERC20InsufficientBalance", sender=actors.driver.address, balance=500, needed=501):
        driver.transact(contracts.token.functions.retire(501, "Acme Bank", "", 0, 0))


def test_retirement_needs_an_amount_a_beneficiary_and_a_sane_period(
    contracts: CreditContracts, sender: SenderFor, funded_driver: int
) -> None:
    retire = contracts.token.functions.retire
    driver = sender("driver")
    with reverts("CreditTokenZeroAmount"):
        driver.transact(retire(0, "Acme Bank", "", 0, 0))
    with reverts("CreditTokenEmptyBeneficiary"):
        driver.transact(retire(1, "", "purpose", 0, 0))
    with reverts("CreditTokenTextTooLong", length=257, maxLength=256):
        driver.transact(retire(1, "b" * 257, "", 0, 0))
    with reverts("CreditTokenTextTooLong", length=300, maxLength=256):
        driver.transact(retire(1, "Acme", "p" * 300, 0, 0))
    with reverts("CreditTokenInvalidPeriod", periodStart=10, periodEnd=9):
        driver.transact(retire(1, "Acme", "", 10, 9))


def test_retire_from_spends_exactly_the_allowance(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, funded_driver: int
) -> None:
    sender("driver").transact(contracts.token.functions.approve(actors.buyer.address, 1200))
    retire_from = contracts.token.functions.retireFrom
    with reverts("ERC20InsufficientAllowance", spender=actors.buyer.address, allowance=1200, needed=1201):
        sender("buyer").transact(retire_from(actors.driver.address, 1201, "Acme", "", 0, 0))
    receipt = sender("buyer").transact(retire_from(actors.driver.address, 1200, "Acme", "on the driver's behalf", 0, 0))
    (retired,) = contracts.token.events.CreditsRetired().process_receipt(receipt, errors=DISCARD)
    assert (retired.args.account, retired.args.amount) == (actors.driver.address, 1200)
    assert contracts.token.functions.allowance(actors.driver.address, actors.buyer.address).call() == 0
    assert contracts.balance_of(actors.driver.address) == 2300


def test_only_the_market_retires_on_a_buyers_behalf(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, funded_driver: int
) -> None:
    with reverts("CreditTokenNotMarket", caller=actors.driver.address):
        sender("driver").transact(contracts.token.functions.retireOnBehalf(actors.buyer.address, 1, "Acme", "", 0, 0))


def test_reading_an_unknown_retirement_reverts(contracts: CreditContracts) -> None:
    for retirement_id in (0, 1):
        with reverts("CreditTokenUnknownRetirement", retirementId=retirement_id):
            contracts.token.functions.retirement(retirement_id).call()


def test_credits_sent_to_the_token_or_the_market_revert(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, funded_driver: int
) -> None:
    driver = sender("driver")
    with reverts("CreditTokenTransferToToken"):
        driver.transact(contracts.token.functions.transfer(contracts.deployment.token, 1))
    with reverts("CreditTokenTransferToMarket"):
        driver.transact(contracts.token.functions.transfer(contracts.deployment.market, 1))
    driver.transact(contracts.token.functions.approve(actors.buyer.address, 1))
    with reverts("CreditTokenTransferToMarket"):  # nor by anyone but the market itself
        sender("buyer").transact(
            contracts.token.functions.transferFrom(actors.driver.address, contracts.deployment.market, 1)
        )


# ---------------------------------------------------------------------------------------- pause and roles


def test_pausing_stops_minting_and_transfers_but_not_retiring(
    contracts: CreditContracts,
    actors: Actors,
    oracle: Sender,
    sender: SenderFor,
    ev_device: DeviceSigner,
    funded_driver: int,
) -> None:
    admin = sender("admin")
    with reverts("AccessControlUnauthorizedAccount", account=actors.driver.address):
        sender("driver").transact(contracts.token.functions.pause())
    admin.transact(contracts.token.functions.pause())
    with reverts("EnforcedPause"):
        issue(contracts, oracle, DAY + 5, (ev_device.address, 1750))
    with reverts("EnforcedPause"):
        sender("driver").transact(contracts.token.functions.transfer(actors.buyer.address, 1))
    sender("driver").transact(contracts.token.functions.retire(100, "Acme", "", 0, 0))
    assert contracts.balance_of(actors.driver.address) == 3400  # nobody else moved anything
    admin.transact(contracts.token.functions.unpause())
    sender("driver").transact(contracts.token.functions.transfer(actors.buyer.address, 1))


def test_the_admin_role_cannot_be_lost_by_a_renounce(
    contracts: CreditContracts, actors: Actors, sender: SenderFor
) -> None:
    admin_role = contracts.role(contracts.token, "DEFAULT_ADMIN_ROLE")
    with reverts("AccessControlEnforcedDefaultAdminDelay"):
        sender("admin").transact(contracts.token.functions.renounceRole(admin_role, actors.admin.address))
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        sender("admin").transact(contracts.token.functions.grantRole(admin_role, actors.buyer.address))
    # A transfer takes two steps and the delay: the new admin cannot accept before it has passed.
    sender("admin").transact(contracts.token.functions.beginDefaultAdminTransfer(actors.buyer.address))
    with reverts("AccessControlEnforcedDefaultAdminDelay"):
        sender("buyer").transact(contracts.token.functions.acceptDefaultAdminTransfer())
    assert contracts.token.functions.defaultAdmin().call() == actors.admin.address


def test_the_token_refuses_a_zero_registry_or_rate_limit(
    contracts: CreditContracts, sender: SenderFor, actors: Actors
) -> None:
    with reverts("CreditTokenZeroAddress"):
        sender("admin").deploy("CreditToken", actors.admin.address, ZERO, 0, 1, 1)
    with reverts("AccessControlInvalidDefaultAdmin", defaultAdmin=ZERO):
        sender("admin").deploy("CreditToken", ZERO, contracts.deployment.registry, 0, 1, 1)
    with reverts("CreditTokenInvalidRateLimit", maxGramsPerPeriod=1, periodSeconds=0):
        sender("admin").deploy("CreditToken", actors.admin.address, contracts.deployment.registry, 0, 1, 0)


def test_changing_the_rate_limit_period_never_forgets_what_was_issued(
    contracts: CreditContracts, oracle: Sender, sender: SenderFor, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    sender("admin").transact(contracts.token.functions.setMintRateLimit(2000, 86_400))
    issue(contracts, oracle, DAY, (ev_device.address, 1750))
    # Lengthening the period (which moves the window's start) still counts the 1750 g just issued.
    sender("admin").transact(contracts.token.functions.setMintRateLimit(2000, 2 * 86_400))
    with reverts("CreditTokenMintRateExceeded", requested=1750, available=250):
        issue(contracts, oracle, DAY + 1, (ev_device.address, 1750))
    _, _, _, issued = contracts.token.functions.mintRateLimit().call()
    assert issued == 1750


def test_the_market_is_named_once(contracts: CreditContracts, sender: SenderFor, actors: Actors) -> None:
    with reverts("CreditTokenMarketAlreadySet", market=contracts.deployment.market):
        sender("admin").transact(contracts.token.functions.setMarket(actors.stranger.address))
    assert contracts.token.functions.market().call() == contracts.deployment.market
