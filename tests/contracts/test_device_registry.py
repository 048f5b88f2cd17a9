from __future__ import annotations

from web3.logs import DISCARD

from contracts.chain import Sender
from contracts.client import CreditContracts, DeviceRecord, DeviceStatus, VehicleClass, pack_credits, unpack_owners
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor, key
from tests.helpers import issue, reverts

ZERO = "0x" + "0" * 40


def test_a_registered_device_starts_active_with_its_owner_and_class(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
) -> None:
    device = DeviceSigner(key("new device"))
    receipt = sender("registrar").transact(
        contracts.registry.functions.registerDevice(device.address, actors.driver.address, VehicleClass.PETROL)
    )
    assert contracts.device(device.address) == DeviceRecord(
        device.address, actors.driver.address, 0, VehicleClass.PETROL, DeviceStatus.ACTIVE, 0
    )
    (event,) = contracts.registry.events.DeviceRegistered().process_receipt(receipt, errors=DISCARD)
    assert (event.args.device, event.args.owner, event.args.index, event.args.vehicleClass) == (
        device.address, actors.driver.address, 0, VehicleClass.PETROL
    )  # fmt: skip
    assert contracts.registry.functions.deviceCount().call() == 1
    key_at_0, record_at_0 = contracts.registry.functions.deviceAt(0).call()
    assert (key_at_0, tuple(record_at_0)) == (device.address, (actors.driver.address, 2, 1, 0))
    with reverts("DeviceRegistryUnknownIndex", index=1):
        contracts.registry.functions.deviceAt(1).call()


def test_devices_are_numbered_in_order(
    contracts: CreditContracts, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    assert [contracts.device(d.address).index for d in (ev_device, petrol_device)] == [0, 1]  # type: ignore[union-attr]


def test_only_the_registrar_registers(contracts: CreditContracts, actors: Actors, sender: SenderFor) -> None:
    role = contracts.role(contracts.registry, "REGISTRAR_ROLE")
    with reverts("AccessControlUnauthorizedAccount", account=actors.driver.address, neededRole=role):
        sender("driver").transact(
            contracts.registry.functions.registerDevice(actors.stranger.address, actors.driver.address, 1)
        )


def test_registration_refuses_zero_addresses_no_class_and_duplicates(
    contracts: CreditContracts,
    actors: Actors,
    ev_device: DeviceSigner,
    sender: SenderFor,
) -> None:
    register = contracts.registry.functions.registerDevice
    registrar: Sender = sender("registrar")
    with reverts("DeviceRegistryZeroAddress"):
        registrar.transact(register(ZERO, actors.driver.address, 1))
    with reverts("DeviceRegistryZeroAddress"):
        registrar.transact(register(actors.stranger.address, ZERO, 1))
    with reverts("DeviceRegistryInvalidVehicleClass", vehicleClass=0):
        registrar.transact(register(actors.stranger.address, actors.driver.address, 0))
    with reverts("DeviceRegistryAlreadyRegistered", device=ev_device.address):
        registrar.transact(register(ev_device.address, actors.buyer.address, 1))


def test_a_device_can_be_suspended_and_reactivated(
    contracts: CreditContracts,
    ev_device: DeviceSigner,
    sender: SenderFor,
) -> None:
    set_status = contracts.registry.functions.setDeviceStatus
    receipt = sender("registrar").transact(set_status(ev_device.address, DeviceStatus.SUSPENDED))
    (event,) = contracts.registry.events.DeviceStatusChanged().process_receipt(receipt, errors=DISCARD)
    assert (event.args.device, event.args.status) == (ev_device.address, DeviceStatus.SUSPENDED)
    assert contracts.device(ev_device.address).status is DeviceStatus.SUSPENDED  # type: ignore[union-attr]
    sender("registrar").transact(set_status(ev_device.address, DeviceStatus.ACTIVE))
    assert contracts.device(ev_device.address).status is DeviceStatus.ACTIVE  # type: ignore[union-attr]
    with reverts("DeviceRegistryInvalidStatus", status=0):
        sender("registrar").transact(set_status(ev_device.address, 0))


def test_a_sold_car_keeps_its_past_credits_with_the_seller(
    contracts: CreditContracts, actors: Actors, ev_device: DeviceSigner, sender: SenderFor
) -> None:
    today = contracts.chain_day()
    receipt = sender("registrar").transact(
        contracts.registry.functions.setDeviceOwner(ev_device.address, actors.buyer.address, today)
    )
    (event,) = contracts.registry.events.DeviceOwnerChanged().process_receipt(receipt, errors=DISCARD)
    assert (event.args.previousOwner, event.args.newOwner, event.args.fromDay) == (
        actors.driver.address,
        actors.buyer.address,
        today,
    )
    assert contracts.device(ev_device.address).owner_since == today  # type: ignore[union-attr]
    # Yesterday, minted after the sale, is still the seller's; today, once over, is the buyer's.
    issue(contracts, sender("oracle"), today - 1, (ev_device.address, 1750))
    contracts.w3.testing.timeTravel(contracts.w3.eth.get_block("latest")["timestamp"] + 86_400)
    issue(contracts, sender("oracle"), today, (ev_device.address, 1000))
    assert contracts.balance_of(actors.driver.address) == 1750
    assert contracts.balance_of(actors.buyer.address) == 1000
    assert contracts.registry.functions.ownerOn(ev_device.address, today - 1).call() == actors.driver.address
    assert contracts.registry.functions.ownerOn(ev_device.address, today).call() == actors.buyer.address


def test_a_sale_cannot_rewrite_days_already_over(
    contracts: CreditContracts, actors: Actors, ev_device: DeviceSigner, sender: SenderFor
) -> None:
    today = contracts.chain_day()
    set_owner = contracts.registry.functions.setDeviceOwner
    with reverts("DeviceRegistryOwnershipInThePast", device=ev_device.address, fromDay=today - 1, today=today):
        sender("registrar").transact(set_owner(ev_device.address, actors.buyer.address, today - 1))
    with reverts("DeviceRegistrySameOwner", device=ev_device.address, owner=actors.driver.address):
        sender("registrar").transact(set_owner(ev_device.address, actors.driver.address, today))


def test_ownership_only_moves_forward_and_one_past_owner_is_remembered(
    contracts: CreditContracts, actors: Actors, ev_device: DeviceSigner, sender: SenderFor
) -> None:
    today = contracts.chain_day()
    set_owner = contracts.registry.functions.setDeviceOwner
    registrar = sender("registrar")
    with reverts("DeviceRegistryZeroAddress"):
        registrar.transact(set_owner(ev_device.address, ZERO, today))
    registrar.transact(set_owner(ev_device.address, actors.buyer.address, today + 10))
    with reverts(
        "DeviceRegistryOwnershipNotForward", device=ev_device.address, fromDay=today + 10, currentOwnerSince=today + 10
    ):
        registrar.transact(set_owner(ev_device.address, actors.stranger.address, today + 10))
    registrar.transact(set_owner(ev_device.address, actors.stranger.address, today + 20))
    # Days today+10..today+19 are the buyer's, from today+20 the stranger's; the first owner's days before
    # today+10 are forgotten, so they can no longer be minted (the oracle holds such a claim).
    assert contracts.registry.functions.ownerOn(ev_device.address, today + 15).call() == actors.buyer.address
    with reverts("DeviceRegistryNoOwnerOnDay", device=ev_device.address, day=today - 1):
        contracts.registry.functions.ownerOn(ev_device.address, today - 1).call()
    with reverts("DeviceRegistryNoOwnerOnDay", device=ev_device.address, day=today - 1):
        issue(contracts, sender("oracle"), today - 1, (ev_device.address, 1))


def test_unknown_devices_revert_everywhere(contracts: CreditContracts, actors: Actors, sender: SenderFor) -> None:
    unknown = actors.stranger.address
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        contracts.registry.functions.deviceOf(unknown).call()
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        sender("registrar").transact(contracts.registry.functions.setDeviceStatus(unknown, DeviceStatus.SUSPENDED))
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        owner_change = contracts.registry.functions.setDeviceOwner(unknown, actors.driver.address, 2**32 - 1)
        sender("registrar").transact(owner_change)
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        contracts.registry.functions.ownerOn(unknown, 1).call()
    assert contracts.device(unknown) is None


def test_credit_recipients_resolves_a_batch_in_one_call(
    contracts: CreditContracts, actors: Actors, ev_device: DeviceSigner, petrol_device: DeviceSigner, sender: SenderFor
) -> None:
    recipients = contracts.registry.functions.creditRecipients
    packed = pack_credits([(1, 2580), (0, 1750), (1, 5)])
    assert unpack_owners(recipients(19_000, packed).call()) == [
        actors.other_driver.address,
        actors.driver.address,
        actors.other_driver.address,
    ]
    assert recipients(19_000, b"").call() == b""
    with reverts("DeviceRegistryMalformedCredits", length=9):
        recipients(19_000, packed[:9]).call()
    with reverts("DeviceRegistryUnknownIndex", index=2):
        recipients(19_000, pack_credits([(2, 1)])).call()
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(ev_device.address, DeviceStatus.SUSPENDED)
    )
    with reverts("DeviceRegistryDeviceNotActive", device=ev_device.address, status=DeviceStatus.SUSPENDED):
        recipients(19_000, packed).call()


def test_the_registry_refuses_a_zero_admin(sender: SenderFor) -> None:
    with reverts("AccessControlInvalidDefaultAdmin", defaultAdmin=ZERO):
        sender("admin").deploy("DeviceRegistry", ZERO, 0)
