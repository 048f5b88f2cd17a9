from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from contracts.chain import Sender
from contracts.client import Credit, CreditContracts, DeviceStatus, VehicleClass
from oracle.device import DeviceSigner
from oracle.methodology import DailyFigures
from tests.conftest import Actors, SenderFor, register
from tests.helpers import reverts

DAY = 19_000
EVIDENCE = keccak(text="evidence")


def issue(contracts: CreditContracts, oracle: Sender, *credits: Credit, methodology_id: int = 1):
    return oracle.transact(
        contracts.token.functions.issueCredits(methodology_id, EVIDENCE, [credit.as_tuple() for credit in credits])
    )


@pytest.fixture
def oracle(sender: SenderFor) -> Sender:
    return sender("oracle")


def test_one_token_is_a_kilogram_and_one_unit_a_gram(contracts: CreditContracts) -> None:
    token = contracts.token.functions
    assert (token.name().call(), token.symbol().call(), token.decimals().call()) == ("Green Travel Credit", "GTC", 3)


def test_a_batch_credits_each_device_day_to_the_registered_owner(
    contracts: CreditContracts, actors: Actors, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    receipt = issue(contracts, oracle, Credit(ev_device.address, DAY, 1750), Credit(petrol_device.address, DAY, 2580))

    assert contracts.balance_of(actors.driver.address) == 1750
    assert contracts.balance_of(actors.other_driver.address) == 2580
    assert contracts.balance_of(ev_device.address) == 0  # never to the device's own address
    credited = contracts.token.events.DeviceDayCredited().process_receipt(receipt, errors=DISCARD)
    assert [(e.args.device, e.args.owner, e.args.day, e.args.grams) for e in credited] == [
        (ev_device.address, actors.driver.address, DAY, 1750),
        (petrol_device.address, actors.other_driver.address, DAY, 2580),
    ]
    (batch,) = contracts.token.events.CreditsIssued().process_receipt(receipt, errors=DISCARD)
    assert batch.args.batchId == 1
    assert batch.args.methodologyId == 1
    assert batch.args.evidenceHash == EVIDENCE
    assert (batch.args.credits, batch.args.grams) == (2, 4330)
    assert contracts.supply().issued == 4330
    assert contracts.token.functions.batchCount().call() == 1


def test_second_mint_for_the_same_device_day_reverts(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner
) -> None:
    issue(contracts, oracle, Credit(ev_device.address, DAY, 1750))
    with reverts("CreditTokenDayAlreadyCredited", device=ev_device.address, day=DAY):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 1000))
    assert contracts.supply().issued == 1750


def test_the_same_device_day_twice_in_one_batch_reverts(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner
) -> None:
    with reverts("CreditTokenDayAlreadyCredited", device=ev_device.address, day=DAY):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 1750), Credit(ev_device.address, DAY, 1750))


def test_the_guard_tells_device_days_apart(
    contracts: CreditContracts, actors: Actors, oracle: Sender, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    issue(contracts, oracle, Credit(ev_device.address, DAY, 1750))
    # The same day for another device, and the next day for the same device, are still free.
    assert contracts.is_credited(ev_device.address, DAY)
    assert not contracts.is_credited(petrol_device.address, DAY)
    assert not contracts.is_credited(ev_device.address, DAY + 1)
    issue(contracts, oracle, Credit(petrol_device.address, DAY, 2580), Credit(ev_device.address, DAY + 1, 1750))
    assert contracts.balance_of(actors.driver.address) == 3500


def test_devices_far_apart_in_the_registry_share_no_guard_bit(
    contracts: CreditContracts, actors: Actors, oracle: Sender
) -> None:
    # Device indexes 0..299 span two words of the guard; index 256 must not collide with index 0.
    devices = [
        register(contracts, actors, f"fleet {i}", actors.driver, VehicleClass.BATTERY_ELECTRIC) for i in range(258)
    ]
    issue(contracts, oracle, Credit(devices[0].address, DAY, 1))
    assert not contracts.is_credited(devices[256].address, DAY)
    issue(contracts, oracle, Credit(devices[256].address, DAY, 1), Credit(devices[257].address, DAY, 1))
    assert contracts.is_credited(devices[257].address, DAY)


def test_only_the_oracle_role_mints(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    oracle_role = contracts.role(contracts.token, "ORACLE_ROLE")
    with reverts("AccessControlUnauthorizedAccount", account=actors.driver.address, neededRole=oracle_role):
        issue(contracts, sender("driver"), Credit(ev_device.address, DAY, 1750))


def test_a_mint_must_name_a_registered_active_methodology(
    contracts: CreditContracts,
    oracle: Sender,
    sender: SenderFor,
    ev_device: DeviceSigner,
) -> None:
    with reverts("CreditTokenUnknownMethodology", methodologyId=9):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 1750), methodology_id=9)
    receipt = sender("admin").transact(contracts.token.functions.setMethodologyActive(1, False))
    (changed,) = contracts.token.events.MethodologyStatusChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed.args.methodologyId, changed.args.active) == (1, False)
    with reverts("CreditTokenMethodologyInactive", methodologyId=1):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 1750))


def test_grams_are_bounded_by_the_methodology_ceiling(
    contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner, methodology: DailyFigures
) -> None:
    ceiling = methodology.max_grams_per_device_day
    with reverts("CreditTokenAboveCeiling", device=ev_device.address, day=DAY, grams=ceiling + 1, ceiling=ceiling):
        issue(contracts, oracle, Credit(ev_device.address, DAY, ceiling + 1))
    with reverts("CreditTokenZeroGrams", device=ev_device.address, day=DAY):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 0))
    issue(contracts, oracle, Credit(ev_device.address, DAY, ceiling))


def test_an_empty_batch_reverts(contracts: CreditContracts, oracle: Sender) -> None:
    with reverts("CreditTokenEmptyBatch"):
        issue(contracts, oracle)


def test_a_suspended_device_cannot_be_credited(
    contracts: CreditContracts,
    oracle: Sender,
    sender: SenderFor,
    ev_device: DeviceSigner,
) -> None:
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    with reverts("CreditTokenDeviceNotActive", device=ev_device.address, status=DeviceStatus.SUSPENDED):
        issue(contracts, oracle, Credit(ev_device.address, DAY, 1750))


def test_an_unregistered_device_cannot_be_credited(contracts: CreditContracts, oracle: Sender, actors: Actors) -> None:
    with reverts("DeviceRegistryUnknownDevice", device=actors.stranger.address):
        issue(contracts, oracle, Credit(actors.stranger.address, DAY, 1750))


def test_methodologies_are_registered_once_by_the_admin(
    contracts: CreditContracts, sender: SenderFor, actors: Actors
) -> None:
    register_v2 = contracts.token.functions.registerMethodology(2, keccak(text="v2"), 5000, "gtc:methodology/v2.json")
    admin_role = contracts.role(contracts.token, "DEFAULT_ADMIN_ROLE")
    with reverts("AccessControlUnauthorizedAccount", account=actors.oracle.address, neededRole=admin_role):
        sender("oracle").transact(register_v2)
    sender("admin").transact(register_v2)
    assert contracts.token.functions.methodology(2).call() == (keccak(text="v2"), 5000, True, "gtc:methodology/v2.json")
    with reverts("CreditTokenMethodologyExists", methodologyId=2):
        sender("admin").transact(register_v2)
    with reverts("CreditTokenZeroCeiling", methodologyId=3):
        sender("admin").transact(contracts.token.functions.registerMethodology(3, keccak(text="v3"), 0, ""))
    with reverts("CreditTokenUnknownMethodology", methodologyId=4):
        contracts.token.functions.methodology(4).call()
    with reverts("CreditTokenUnknownMethodology", methodologyId=4):
        sender("admin").transact(contracts.token.functions.setMethodologyActive(4, True))


def test_methodology_uri_length_is_bounded(contracts: CreditContracts, sender: SenderFor) -> None:
    with reverts("CreditTokenTextTooLong", length=257, maxLength=256):
        sender("admin").transact(contracts.token.functions.registerMethodology(2, keccak(text="v2"), 1, "u" * 257))


# ---------------------------------------------------------------------------------------- retirement


@pytest.fixture
def funded_driver(contracts: CreditContracts, oracle: Sender, ev_device: DeviceSigner) -> int:
    issue(contracts, oracle, Credit(ev_device.address, DAY, 1750), Credit(ev_device.address, DAY + 1, 1750))
    return 3500


def test_retiring_burns_credits_and_numbers_the_record(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    funded_driver: int,
) -> None:
    receipt = sender("driver").transact(contracts.token.functions.retire(1000, "Acme Bank", "Flights 2026"))

    (retired,) = contracts.token.events.CreditsRetired().process_receipt(receipt, errors=DISCARD)
    assert (retired.args.retirementId, retired.args.account, retired.args.amount) == (1, actors.driver.address, 1000)
    assert (retired.args.beneficiary, retired.args.purpose) == ("Acme Bank", "Flights 2026")
    account, retired_at, amount, beneficiary, purpose = contracts.token.functions.retirement(1).call()
    block = contracts.w3.eth.get_block(receipt["blockNumber"])
    assert (account, retired_at, amount, beneficiary, purpose) == (
        actors.driver.address, block["timestamp"], 1000, "Acme Bank", "Flights 2026"
    )  # fmt: skip
    (burn,) = contracts.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert (burn.args["from"], burn.args.to, burn.args.value) == (actors.driver.address, "0x" + "0" * 40, 1000)
    supply = contracts.supply()
    assert (supply.issued, supply.circulating, supply.retired) == (3500, 2500, 1000)
    assert contracts.balance_of(actors.driver.address) == 2500
    assert contracts.token.functions.retirementCount().call() == 1


def test_retired_credits_can_never_move_again(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    funded_driver: int,
) -> None:
    driver = sender("driver")
    driver.transact(contracts.token.functions.retire(3000, "Acme Bank", ""))
    with reverts("ERC20InsufficientBalance", sender=actors.driver.address, balance=500, needed=501):
        driver.transact(contracts.token.functions.transfer(actors.buyer.address, 501))
    with reverts("ERC20InsufficientBalance", sender=actors.driver.address, balance=500, needed=501):
        driver.transact(contracts.token.functions.retire(501, "Acme Bank", ""))


def test_retirement_needs_an_amount_and_a_beneficiary(
    contracts: CreditContracts, sender: SenderFor, funded_driver: int
) -> None:
    driver = sender("driver")
    with reverts("CreditTokenZeroAmount"):
        driver.transact(contracts.token.functions.retire(0, "Acme Bank", ""))
    with reverts("CreditTokenEmptyBeneficiary"):
        driver.transact(contracts.token.functions.retire(1, "", "purpose"))
    with reverts("CreditTokenTextTooLong", length=257, maxLength=256):
        driver.transact(contracts.token.functions.retire(1, "b" * 257, ""))
    with reverts("CreditTokenTextTooLong", length=300, maxLength=256):
        driver.transact(contracts.token.functions.retire(1, "Acme", "p" * 300))


def test_reading_an_unknown_retirement_reverts(contracts: CreditContracts) -> None:
    for retirement_id in (0, 1):
        with reverts("CreditTokenUnknownRetirement", retirementId=retirement_id):
            contracts.token.functions.retirement(retirement_id).call()


def test_credits_sent_to_the_token_contract_itself_revert(
    contracts: CreditContracts,
    sender: SenderFor,
    funded_driver: int,
) -> None:
    with reverts("CreditTokenTransferToToken"):
        sender("driver").transact(contracts.token.functions.transfer(contracts.deployment.token, 1))


def test_the_token_refuses_a_zero_admin_or_registry(
    contracts: CreditContracts, sender: SenderFor, actors: Actors
) -> None:
    zero = "0x" + "0" * 40
    with reverts("CreditTokenZeroAddress"):
        sender("admin").deploy("CreditToken", zero, contracts.deployment.registry)
    with reverts("CreditTokenZeroAddress"):
        sender("admin").deploy("CreditToken", actors.admin.address, zero)
