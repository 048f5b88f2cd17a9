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
        device.address, actors.driver.address, 0, VehicleClass.PETROL, DeviceStatus.ACTIVE
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


def test_a_new_owner_receives_the_later_credits(
    contracts: CreditContracts,
    actors: Actors,
    ev_device: DeviceSigner,
    sender: SenderFor,
) -> None:
    receipt = sender("registrar").transact(
        contracts.registry.functions.setDeviceOwner(ev_device.address, actors.buyer.address)
    )
    (event,) = contracts.registry.events.DeviceOwnerChanged().process_receipt(receipt, errors=DISCARD)
    assert (event.args.previousOwner, event.args.newOwner) == (actors.driver.address, actors.buyer.address)
    sender("oracle").transact(
        contracts.token.functions.issueCredits(1, b"\x01" * 32, [Credit(ev_device.address, 19_000, 1750).as_tuple()])
    )
    assert contracts.balance_of(actors.buyer.address) == 1750
    assert contracts.balance_of(actors.driver.address) == 0
    with reverts("DeviceRegistryZeroAddress"):
        sender("registrar").transact(contracts.registry.functions.setDeviceOwner(ev_device.address, ZERO))


def test_unknown_devices_revert_everywhere(contracts: CreditContracts, actors: Actors, sender: SenderFor) -> None:
    unknown = actors.stranger.address
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        contracts.registry.functions.deviceOf(unknown).call()
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        sender("registrar").transact(contracts.registry.functions.setDeviceStatus(unknown, DeviceStatus.SUSPENDED))
    with reverts("DeviceRegistryUnknownDevice", device=unknown):
        sender("registrar").transact(contracts.registry.functions.setDeviceOwner(unknown, actors.driver.address))
    assert contracts.device(unknown) is None


def test_the_registry_refuses_a_zero_admin(sender: SenderFor) -> None:
    with reverts("DeviceRegistryZeroAddress"):
        sender("admin").deploy("DeviceRegistry", ZERO)
