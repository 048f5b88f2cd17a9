// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title Device registry of Green Travel Credits
/// @notice Maps each in-car device key to the wallet of the car's owner, the car's vehicle class and the
/// device's status, and remembers who owned the car on which day. Credits for a device always go to its
/// owner on the credited day.
/// @dev Device reports are EIP-712 messages in this contract's domain (name "Green Travel Credits",
/// version "1", this chain id, this address), so a report signed for another chain or another registry
/// never recovers to a registered device. {hashReport} is the on-chain reference for the off-chain hashing.
/// Devices are numbered from 0 in registration order; the credit token addresses them by number.
contract DeviceRegistry is AccessControlDefaultAdminRules, EIP712 {
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

    /// @dev Fits one storage slot: 160 + 8 + 8 + 32 bits, read once per credited device-day.
    struct Device {
        address owner;
        VehicleClass vehicleClass;
        DeviceStatus status;
        uint32 ownerSince;
    }

    /// @notice The owner before the current one, and the first day that was theirs.
    struct PastOwner {
        address owner;
        uint32 since;
    }

    /// @notice A device's signed summary of one UTC day (day = days since 1970-01-01): odometer and distance
    /// in metres, seconds spent moving, energy drawn from the battery (Wh) and fuel burned (ml).
    struct DailyReport {
        address device;
        uint32 day;
        uint64 sequence;
        uint64 odometerStartM;
        uint64 odometerEndM;
        uint64 distanceM;
        uint32 movingS;
        uint64 energyWh;
        uint64 fuelMl;
        bytes32 traceHash;
    }

    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    bytes32 public constant DAILY_REPORT_TYPEHASH = keccak256(
        "DailyReport(address device,uint32 day,uint64 sequence,uint64 odometerStartM,uint64 odometerEndM,"
        "uint64 distanceM,uint32 movingS,uint64 energyWh,uint64 fuelMl,bytes32 traceHash)"
    );

    /// @dev Bytes per credit in the packed form the token passes: uint32 device index, uint32 grams.
    uint256 private constant CREDIT_BYTES = 8;

    mapping(uint32 index => Device) private _devices;
    mapping(uint32 index => PastOwner) private _previousOwners;
    mapping(uint32 index => address) private _keys;
    mapping(address device => uint32) private _indexPlusOne;
    uint32 private _deviceCount;

    /// @notice A device key was registered to `owner`'s car as device number `index`.
    event DeviceRegistered(address indexed device, address indexed owner, uint32 index, VehicleClass vehicleClass);
    event DeviceStatusChanged(address indexed device, DeviceStatus status);
    /// @notice From UTC day `fromDay` on, `device`'s credits belong to `newOwner`; earlier days stay
    /// `previousOwner`'s, even when they are minted later.
    event DeviceOwnerChanged(
        address indexed device, address indexed previousOwner, address indexed newOwner, uint32 fromDay
    );

    error DeviceRegistryZeroAddress();
    error DeviceRegistryUnknownDevice(address device);
    error DeviceRegistryUnknownIndex(uint32 index);
    error DeviceRegistryAlreadyRegistered(address device);
    error DeviceRegistryInvalidVehicleClass(VehicleClass vehicleClass);
    error DeviceRegistryInvalidStatus(DeviceStatus status);
    error DeviceRegistryOwnershipNotForward(address device, uint32 fromDay, uint32 currentOwnerSince);
    error DeviceRegistryNoOwnerOnDay(address device, uint32 day);
    error DeviceRegistryOwnershipInThePast(address device, uint32 fromDay, uint256 today);
    error DeviceRegistrySameOwner(address device, address owner);
    error DeviceRegistryDeviceNotActive(address device, DeviceStatus status);
    error DeviceRegistryMalformedCredits(uint256 length);

    /// @param adminDelay Seconds a new default admin must wait to take over (OpenZeppelin's
    /// AccessControlDefaultAdminRules: the admin role is transferred in two steps and never lost by mistake).
    constructor(address admin, uint48 adminDelay)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("Green Travel Credits", "1")
    {}

    // ---------------------------------------------------------------- registrar

    /// @notice Registers a device key for the car owned by `owner`; the device starts active and the owner
    /// holds every day before a later sale.
    /// @dev Requires REGISTRAR_ROLE. Emits {DeviceRegistered}.
    function registerDevice(address device, address owner, VehicleClass vehicleClass)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (device == address(0) || owner == address(0)) revert DeviceRegistryZeroAddress();
        if (vehicleClass == VehicleClass.None) revert DeviceRegistryInvalidVehicleClass(vehicleClass);
        if (_indexPlusOne[device] != 0) revert DeviceRegistryAlreadyRegistered(device);
        uint32 index = _deviceCount++;
        _devices[index] = Device(owner, vehicleClass, DeviceStatus.Active, 0);
        _keys[index] = device;
        _indexPlusOne[device] = index + 1;
        emit DeviceRegistered(device, owner, index, vehicleClass);
    }

    /// @notice Suspends a device (nothing can be credited to it while it is suspended) or makes it active
    /// again; days reported before or during a suspension can be credited once it is lifted. Suspension is
    /// a status kept here, not a role, so nobody can renounce it.
    /// @dev Requires REGISTRAR_ROLE and a registered device. Emits {DeviceStatusChanged}.
    function setDeviceStatus(address device, DeviceStatus status) external onlyRole(REGISTRAR_ROLE) {
        if (status == DeviceStatus.None) revert DeviceRegistryInvalidStatus(status);
        _devices[_requireIndex(device)].status = status;
        emit DeviceStatusChanged(device, status);
    }

    /// @notice Moves a device to a new owner when the car is sold: credits for UTC days from `fromDay` on
    /// go to `newOwner`; credits for earlier days, even if minted later, still go to the previous owner.
    /// @dev Requires REGISTRAR_ROLE, a registered device, a new owner, and `fromDay` no earlier than today
    /// (by the block's clock: days already over may have been credited, and their owner cannot change)
    /// and after the current owner's first day. One past owner is remembered: days before the past
    /// owner's first day can no longer be credited. Emits {DeviceOwnerChanged}.
    function setDeviceOwner(address device, address newOwner, uint32 fromDay) external onlyRole(REGISTRAR_ROLE) {
        if (newOwner == address(0)) revert DeviceRegistryZeroAddress();
        uint32 index = _requireIndex(device);
        Device storage record = _devices[index];
        if (newOwner == record.owner) revert DeviceRegistrySameOwner(device, newOwner);
        uint256 today = block.timestamp / 1 days;
        if (fromDay < today) revert DeviceRegistryOwnershipInThePast(device, fromDay, today);
        if (fromDay <= record.ownerSince) {
            revert DeviceRegistryOwnershipNotForward(device, fromDay, record.ownerSince);
        }
        address previousOwner = record.owner;
        _previousOwners[index] = PastOwner(previousOwner, record.ownerSince);
        record.owner = newOwner;
        record.ownerSince = fromDay;
        emit DeviceOwnerChanged(device, previousOwner, newOwner, fromDay);
    }

    // ---------------------------------------------------------------- reads

    /// @notice The record and number of a registered device.
    /// @dev Reverts with {DeviceRegistryUnknownDevice} for a key that was never registered.
    function deviceOf(address device) external view returns (Device memory record, uint32 index) {
        index = _requireIndex(device);
        record = _devices[index];
    }

    /// @notice The key and record of device number `index`.
    /// @dev Reverts with {DeviceRegistryUnknownIndex} past the last registered device.
    function deviceAt(uint32 index) external view returns (address device, Device memory record) {
        if (index >= _deviceCount) revert DeviceRegistryUnknownIndex(index);
        return (_keys[index], _devices[index]);
    }

    /// @notice How many devices have ever been registered.
    function deviceCount() external view returns (uint32) {
        return _deviceCount;
    }

    /// @notice Who is credited for what `device` reported on UTC `day`: the owner on that day.
    /// @dev Reverts with {DeviceRegistryUnknownDevice}, or {DeviceRegistryNoOwnerOnDay} for a day before
    /// the one past owner this registry remembers.
    function ownerOn(address device, uint32 day) external view returns (address) {
        uint32 index = _requireIndex(device);
        Device storage record = _devices[index];
        return day >= record.ownerSince ? record.owner : _pastOwnerOn(index, day);
    }

    /// @notice The owners on `day` of the devices in `credits` (packed: uint32 device index, uint32 grams,
    /// big-endian, 8 bytes each), as 20-byte addresses packed in the same order. The token resolves a
    /// batch with one call; the oracle calls it to build a batch's evidence.
    /// @dev Reverts with {DeviceRegistryUnknownIndex}, {DeviceRegistryDeviceNotActive} or
    /// {DeviceRegistryNoOwnerOnDay} for any device of the batch, and {DeviceRegistryMalformedCredits} for a
    /// length that is not a multiple of 8.
    function creditRecipients(uint32 day, bytes calldata credits) external view returns (bytes memory owners) {
        if (credits.length % CREDIT_BYTES != 0) revert DeviceRegistryMalformedCredits(credits.length);
        uint256 count = credits.length / CREDIT_BYTES;
        uint32 devices = _deviceCount;
        // 12 bytes of slack: each owner is written as a 32-byte word whose last 12 bytes the next owner
        // overwrites; the last word's spill lands in the slack, which the length then leaves out.
        owners = new bytes(count * 20 + 12);
        for (uint256 i = 0; i < count;) {
            uint32 index;
            assembly ("memory-safe") {
                index := shr(224, calldataload(add(credits.offset, mul(i, CREDIT_BYTES))))
            }
            if (index >= devices) revert DeviceRegistryUnknownIndex(index);
            // One read of the record's slot (owner, class, status, ownerSince), unpacked by hand: this
            // runs once per credited device-day.
            uint256 slot;
            Device storage record = _devices[index];
            assembly ("memory-safe") {
                slot := sload(record.slot)
            }
            DeviceStatus status = DeviceStatus(uint8(slot >> 168));
            if (status != DeviceStatus.Active) revert DeviceRegistryDeviceNotActive(_keys[index], status);
            address owner = address(uint160(slot));
            if (day < uint32(slot >> 176)) owner = _pastOwnerOn(index, day); // the day precedes a sale
            assembly ("memory-safe") {
                mstore(add(add(owners, 32), mul(i, 20)), shl(96, owner))
            }
            unchecked {
                // i < count, which is below 2^256 / 8.
                ++i;
            }
        }
        assembly ("memory-safe") {
            mstore(owners, mul(count, 20))
        }
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
                    report.movingS,
                    report.energyWh,
                    report.fuelMl,
                    report.traceHash
                )
            )
        );
    }

    // ---------------------------------------------------------------- internals

    function _pastOwnerOn(uint32 index, uint32 day) private view returns (address) {
        PastOwner memory past = _previousOwners[index];
        if (past.owner != address(0) && day >= past.since) return past.owner;
        revert DeviceRegistryNoOwnerOnDay(_keys[index], day);
    }

    function _requireIndex(address device) private view returns (uint32) {
        uint32 indexPlusOne = _indexPlusOne[device];
        if (indexPlusOne == 0) revert DeviceRegistryUnknownDevice(device);
        unchecked {
            // indexPlusOne > 0 here.
            return indexPlusOne - 1;
        }
    }
}
