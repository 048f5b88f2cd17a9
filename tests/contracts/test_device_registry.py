from __future__ import annotations

from web3.logs import DISCARD

from contracts.chain import Sender
from contracts.client import Credit, CreditContracts, DeviceRecord, DeviceStatus, VehicleClass
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor, key
from tests.helpers import reverts

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
    receipt = sender("registrar").transact(
        contracts.registry.functions.setDeviceOwner(ev_device.address, actors.buyer.address, 19_001)
    )
    (event,) = contracts.registry.events.DeviceOwnerChanged().process_receipt(receipt, errors=DISCARD)
    assert (event.args.previousOwner, event.args.newOwner, event.args.fromDay) == (
        actors.driver.address,
        actors.buyer.address,
        19_001,
    )
    assert contracts.device(ev_device.address).owner_since == 19_001  # type: ignore[union-attr]
    # Both days are minted after the sale: the day before it is still the seller's.
    days = [Credit(ev_device.address, 19_000, 1750).as_tuple(), Credit(ev_device.address, 19_001, 1000).as_tuple()]
    sender("oracle").transact(contracts.token.functions.issueCredits(1, b"\x01" * 32, days))
    assert contracts.balance_of(actors.driver.address) == 1750
    assert contracts.balance_of(actors.buyer.address) == 1000
    assert contracts.registry.functions.ownerOn(ev_device.address, 19_000).call() == actors.driver.address
    assert contracts.registry.functions.ownerOn(ev_device.address, 19_001).call() == actors.buyer.address


def test_ownership_only_moves_forward_and_one_past_owner_is_remembered(
    contracts: CreditContracts, actors: Actors, ev_device: DeviceSigner, sender: SenderFor
) -> None:
    set_owner = contracts.registry.functions.setDeviceOwner
    registrar = sender("registrar")
    with reverts("DeviceRegistryZeroAddress"):
        registrar.transact(set_owner(ev_device.address, ZERO, 10))
    with reverts("DeviceRegistryOwnershipNotForward", device=ev_device.address, fromDay=0, currentOwnerSince=0):
        registrar.transact(set_owner(ev_device.address, actors.buyer.address, 0))
    registrar.transact(set_owner(ev_device.address, actors.buyer.address, 10))
    with reverts("DeviceRegistryOwnershipNotForward", device=ev_device.address, fromDay=10, currentOwnerSince=10):
        registrar.transact(set_owner(ev_device.address, actors.stranger.address, 10))
    registrar.transact(set_owner(ev_device.address, actors.stranger.address, 20))
    # Days 10..19 are the buyer's, from 20 the stranger's; the first owner's days 0..9 are forgotten,
    # so they can no longer be minted (the oracle holds such a claim for an operator).
    assert contracts.registry.functions.ownerOn(ev_device.address, 15).call() == actors.buyer.address
    with reverts("DeviceRegistryNoOwnerOnDay", device=ev_device.address, day=9):
        contracts.registry.functions.ownerOn(ev_device.address, 9).call()
    with reverts("DeviceRegistryNoOwnerOnDay", device=ev_device.address, day=9):
        sender("oracle").transact(
            contracts.token.functions.issueCredits(1, b"\x01" * 32, [Credit(ev_device.address, 9, 1).as_tuple()])
        )


def test_unknown_devices_revert_everywhere(contracts: CreditContracts, actors: Actors, sender: SenderFor) -> None:
    unknown = actors.stranger.address
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        contracts.registry.functions.deviceOf(unknown).call()
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        sender("registrar").transact(contracts.registry.functions.setDeviceStatus(unknown, DeviceStatus.SUSPENDED))
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        sender("registrar").transact(contracts.registry.functions.setDeviceOwner(unknown, actors.driver.address, 1))
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        contracts.registry.functions.ownerOn(unknown, 1).call()
    assert contracts.device(unknown) is None


def test_the_registry_refuses_a_zero_admin(sender: SenderFor) -> None:
    with reverts("DeviceRegistryZeroAddress"):
        sender("admin").deploy("DeviceRegistry", ZERO)
