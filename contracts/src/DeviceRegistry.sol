// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title Device registry of Green Travel Credits
/// @notice Maps each in-car device key to the wallet of the car's owner, the car's vehicle class and the
/// device's status. Credits for a device always go to the owner recorded here.
/// @dev Device reports are EIP-712 messages in this contract's domain (name "Green Travel Credits",
/// version "1", this chain id, this address), so a report signed for another chain or another registry
/// never recovers to a registered device. {hashReport} is the on-chain reference for the off-chain hashing.
contract DeviceRegistry is AccessControl, EIP712 {
    /// @notice What a device's car is; it decides which methodology rules apply to its reports.
    /// `Petrol` cars are credited against the reference petrol car (engine of at most 1.2 L).
    enum VehicleClass {
        None,
        BatteryElectric,
        Petrol,
        Other
    }

    enum DeviceStatus {
        None,
        Active,
        Suspended
    }

    /// @dev Fits one storage slot: 160 + 32 + 8 + 8 + 32 bits.
    struct Device {
        address owner;
        uint32 index;
        VehicleClass vehicleClass;
        DeviceStatus status;
        uint32 ownerSince;
    }

    /// @notice The owner before the current one, and the first day that was theirs.
    struct PastOwner {
        address owner;
        uint32 since;
    }

    /// @notice A device's signed summary of one UTC day (day = days since 1970-01-01).
    struct DailyReport {
        address device;
        uint32 day;
        uint64 sequence;
        uint64 odometerStartM;
        uint64 odometerEndM;
        uint64 distanceM;
        uint64 energyWh;
        uint64 fuelMl;
        bytes32 traceHash;
    }

    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    bytes32 public constant DAILY_REPORT_TYPEHASH = keccak256(
        "DailyReport(address device,uint32 day,uint64 sequence,uint64 odometerStartM,uint64 odometerEndM,"
        "uint64 distanceM,uint64 energyWh,uint64 fuelMl,bytes32 traceHash)"
    );

    mapping(address device => Device) private _devices;
    mapping(address device => PastOwner) private _previousOwners;
    uint32 private _deviceCount;

    /// @notice A device key was registered to `owner`'s car; `index` numbers devices from 0.
    event DeviceRegistered(address indexed device, address indexed owner, uint32 index, VehicleClass vehicleClass);
    event DeviceStatusChanged(address indexed device, DeviceStatus status);
    /// @notice From UTC day `fromDay` on, `device`'s credits belong to `newOwner`; earlier days stay
    /// `previousOwner`'s, even when they are minted later.
    event DeviceOwnerChanged(
        address indexed device, address indexed previousOwner, address indexed newOwner, uint32 fromDay
    );

    error DeviceRegistryZeroAddress();
    error DeviceRegistryUnknownDevice(address device);
    error DeviceRegistryAlreadyRegistered(address device);
    error DeviceRegistryInvalidVehicleClass(VehicleClass vehicleClass);
    error DeviceRegistryInvalidStatus(DeviceStatus status);
    error DeviceRegistryOwnershipNotForward(address device, uint32 fromDay, uint32 currentOwnerSince);
    error DeviceRegistryNoOwnerOnDay(address device, uint32 day);

    constructor(address admin) EIP712("Green Travel Credits", "1") {
        if (admin == address(0)) revert DeviceRegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Registers a device key for the car owned by `owner`; the device starts active.
    /// @dev Requires REGISTRAR_ROLE. Emits {DeviceRegistered}.
    function registerDevice(address device, address owner, VehicleClass vehicleClass)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (device == address(0) || owner == address(0)) revert DeviceRegistryZeroAddress();
        if (vehicleClass == VehicleClass.None) revert DeviceRegistryInvalidVehicleClass(vehicleClass);
        if (_devices[device].status != DeviceStatus.None) revert DeviceRegistryAlreadyRegistered(device);
        uint32 index = _deviceCount++;
        _devices[device] = Device(owner, index, vehicleClass, DeviceStatus.Active, 0);
        emit DeviceRegistered(device, owner, index, vehicleClass);
    }

    /// @notice Suspends a device (its reports earn nothing) or makes it active again.
    /// @dev Requires REGISTRAR_ROLE and a registered device. Emits {DeviceStatusChanged}.
    function setDeviceStatus(address device, DeviceStatus status) external onlyRole(REGISTRAR_ROLE) {
        if (status == DeviceStatus.None) revert DeviceRegistryInvalidStatus(status);
        _requireRegistered(device).status = status;
        emit DeviceStatusChanged(device, status);
    }

    /// @notice Moves a device to a new owner when the car is sold: credits for UTC days from `fromDay` on
    /// go to `newOwner`; credits for earlier days, even if minted later, still go to the previous owner.
    /// @dev Requires REGISTRAR_ROLE, a registered device and `fromDay` after the current owner's first day.
    /// One past owner is remembered: days before the past owner's first day can no longer be credited.
    /// Emits {DeviceOwnerChanged}.
    function setDeviceOwner(address device, address newOwner, uint32 fromDay) external onlyRole(REGISTRAR_ROLE) {
        if (newOwner == address(0)) revert DeviceRegistryZeroAddress();
        Device storage record = _requireRegistered(device);
        if (fromDay <= record.ownerSince) {
            revert DeviceRegistryOwnershipNotForward(device, fromDay, record.ownerSince);
        }
        address previousOwner = record.owner;
        _previousOwners[device] = PastOwner(previousOwner, record.ownerSince);
        record.owner = newOwner;
        record.ownerSince = fromDay;
        emit DeviceOwnerChanged(device, previousOwner, newOwner, fromDay);
    }

    /// @notice The record of a registered device.
    /// @dev Reverts with {DeviceRegistryUnknownDevice} for a key that was never registered.
    function deviceOf(address device) external view returns (Device memory) {
        Device memory record = _devices[device];
        if (record.status == DeviceStatus.None) revert DeviceRegistryUnknownDevice(device);
        return record;
    }

    /// @notice Who is credited for what `device` reported on UTC `day`: the owner on that day.
    /// @dev Reverts with {DeviceRegistryUnknownDevice}, or {DeviceRegistryNoOwnerOnDay} for a day before
    /// the one past owner this registry remembers.
    function ownerOn(address device, uint32 day) public view returns (address) {
        Device memory record = _devices[device];
        if (record.status == DeviceStatus.None) revert DeviceRegistryUnknownDevice(device);
        if (day >= record.ownerSince) return record.owner;
        PastOwner memory past = _previousOwners[device];
        if (past.owner != address(0) && day >= past.since) return past.owner;
        revert DeviceRegistryNoOwnerOnDay(device, day);
    }

    /// @notice How many devices have ever been registered.
    function deviceCount() external view returns (uint32) {
        return _deviceCount;
    }

    /// @notice The EIP-712 digest a device signs for `report` in this registry's domain.
    function hashReport(DailyReport calldata report) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    DAILY_REPORT_TYPEHASH,
                    report.device,
                    report.day,
                    report.sequence,
                    report.odometerStartM,
                    report.odometerEndM,
                    report.distanceM,
                    report.energyWh,
                    report.fuelMl,
                    report.traceHash
                )
            )
        );
    }

    function _requireRegistered(address device) private view returns (Device storage record) {
        record = _devices[device];
        if (record.status == DeviceStatus.None) revert DeviceRegistryUnknownDevice(device);
    }
}
