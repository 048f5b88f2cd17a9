// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title Green Travel Credit (GTC)
/// @notice An ERC-20 credit for CO2e avoided by travelling greener: 1 token = 1 kg CO2e and, with 3
/// decimals, the smallest unit is 1 gram. Credits are issued only by the oracle, only from verified device
/// reports, at most once per device and UTC day, and always to the device's registered owner on that day.
/// Retiring credits burns them and records a numbered retirement: the certificate of the offset claimed.
contract CreditToken is ERC20, AccessControl {
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");

    uint256 public constant MAX_TEXT_LENGTH = 256;

    /// @notice Grams credited to one device for one UTC day (days since 1970-01-01).
    struct Credit {
        address device;
        uint32 day;
        uint64 grams;
    }

    /// @notice A published methodology version: the hash of its parameter file, where to read it, and the
    /// most grams it can ever award one device for one day (a ceiling a faulty oracle cannot exceed).
    struct Methodology {
        bytes32 paramsHash;
        uint64 maxGramsPerDeviceDay;
        bool active;
        string uri;
    }

    /// @notice The record of one retirement, numbered from 1.
    struct Retirement {
        address account;
        uint64 retiredAt;
        uint256 amount;
        string beneficiary;
        string purpose;
    }

    DeviceRegistry private immutable _registry;

    /// @dev Replay guard: one bit per (day, device index). Key = day << 32 | index >> 8, bit = index & 255,
    /// so the devices credited for one day share words and a batch for one day touches few slots.
    mapping(uint256 dayAndWord => uint256 bits) private _creditedDays;
    mapping(uint32 methodologyId => Methodology) private _methodologies;
    uint256 private _batchCount;
    uint256 private _totalIssued;
    uint256 private _totalRetired;
    Retirement[] private _retirements;

    /// @notice A batch of device-day credits was issued under `methodologyId`; `evidenceHash` commits to the
    /// signed reports behind it (keccak256 of their EIP-712 digests in credit order).
    event CreditsIssued(
        uint256 indexed batchId, uint32 indexed methodologyId, bytes32 evidenceHash, uint256 credits, uint256 grams
    );
    /// @notice `grams` were credited to `owner` for what `device` reported on `day`.
    event DeviceDayCredited(
        uint256 indexed batchId, address indexed device, address indexed owner, uint32 day, uint256 grams
    );
    /// @notice `account` retired `amount` grams for `beneficiary`; the record is `retirement(retirementId)`.
    event CreditsRetired(
        uint256 indexed retirementId, address indexed account, uint256 amount, string beneficiary, string purpose
    );
    event MethodologyRegistered(uint32 indexed methodologyId, bytes32 paramsHash, uint64 maxGramsPerDeviceDay, string uri);
    event MethodologyStatusChanged(uint32 indexed methodologyId, bool active);

    error CreditTokenZeroAddress();
    error CreditTokenEmptyBatch();
    error CreditTokenUnknownMethodology(uint32 methodologyId);
    error CreditTokenMethodologyExists(uint32 methodologyId);
    error CreditTokenMethodologyInactive(uint32 methodologyId);
    error CreditTokenZeroCeiling(uint32 methodologyId);
    error CreditTokenDeviceNotActive(address device, DeviceRegistry.DeviceStatus status);
    error CreditTokenDayAlreadyCredited(address device, uint32 day);
    error CreditTokenZeroGrams(address device, uint32 day);
    error CreditTokenAboveCeiling(address device, uint32 day, uint64 grams, uint64 ceiling);
    error CreditTokenZeroAmount();
    error CreditTokenEmptyBeneficiary();
    error CreditTokenTextTooLong(uint256 length, uint256 maxLength);
    error CreditTokenUnknownRetirement(uint256 retirementId);
    error CreditTokenTransferToToken();

    constructor(address admin, DeviceRegistry registry_) ERC20("Green Travel Credit", "GTC") {
        if (admin == address(0) || address(registry_) == address(0)) revert CreditTokenZeroAddress();
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice 3 decimals: one token is one kilogram of CO2e and one unit is one gram.
    function decimals() public pure override returns (uint8) {
        return 3;
    }

    /// @notice The device registry that decides who receives credits.
    function registry() external view returns (DeviceRegistry) {
        return _registry;
    }

    // ---------------------------------------------------------------- methodologies

    /// @notice Publishes a methodology version that mints may name.
    /// @dev Requires DEFAULT_ADMIN_ROLE, a new id and a ceiling above zero. Emits {MethodologyRegistered}.
    function registerMethodology(uint32 methodologyId, bytes32 paramsHash, uint64 maxGramsPerDeviceDay, string calldata uri)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (_methodologies[methodologyId].maxGramsPerDeviceDay != 0) revert CreditTokenMethodologyExists(methodologyId);
        if (maxGramsPerDeviceDay == 0) revert CreditTokenZeroCeiling(methodologyId);
        _requireTextLength(bytes(uri).length);
        _methodologies[methodologyId] = Methodology(paramsHash, maxGramsPerDeviceDay, true, uri);
        emit MethodologyRegistered(methodologyId, paramsHash, maxGramsPerDeviceDay, uri);
    }

    /// @notice Stops (or resumes) minting under a methodology; credits already issued stay valid.
    /// @dev Requires DEFAULT_ADMIN_ROLE. Emits {MethodologyStatusChanged}.
    function setMethodologyActive(uint32 methodologyId, bool active) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireMethodology(methodologyId).active = active;
        emit MethodologyStatusChanged(methodologyId, active);
    }

    /// @notice A registered methodology version.
    function methodology(uint32 methodologyId) external view returns (Methodology memory) {
        return _requireMethodology(methodologyId);
    }

    // ---------------------------------------------------------------- issuance

    /// @notice Issues one batch of verified device-day credits, each to the device's registered owner.
    /// @dev Requires ORACLE_ROLE, an active methodology, and for every credit: an active device, grams above
    /// zero and at most the methodology's ceiling, and a (device, day) never credited before (also within
    /// the batch). Emits {DeviceDayCredited} per credit, ERC-20 {Transfer}s, and {CreditsIssued}.
    /// @return batchId The number of this batch, counted from 1.
    function issueCredits(uint32 methodologyId, bytes32 evidenceHash, Credit[] calldata credits)
        external
        onlyRole(ORACLE_ROLE)
        returns (uint256 batchId)
    {
        Methodology storage method = _requireMethodology(methodologyId);
        if (!method.active) revert CreditTokenMethodologyInactive(methodologyId);
        if (credits.length == 0) revert CreditTokenEmptyBatch();
        uint64 ceiling = method.maxGramsPerDeviceDay;
        batchId = ++_batchCount;

        uint256 total;
        for (uint256 i = 0; i < credits.length; ++i) {
            Credit calldata credit = credits[i];
            DeviceRegistry.Device memory device = _registry.deviceOf(credit.device);
            if (device.status != DeviceRegistry.DeviceStatus.Active) {
                revert CreditTokenDeviceNotActive(credit.device, device.status);
            }
            if (credit.grams == 0) revert CreditTokenZeroGrams(credit.device, credit.day);
            if (credit.grams > ceiling) revert CreditTokenAboveCeiling(credit.device, credit.day, credit.grams, ceiling);
            _markCredited(credit.device, device.index, credit.day);
            // The owner on the credited day, not at minting: a car sold meanwhile does not take its past.
            address owner = credit.day >= device.ownerSince ? device.owner : _registry.ownerOn(credit.device, credit.day);
            _mint(owner, credit.grams);
            emit DeviceDayCredited(batchId, credit.device, owner, credit.day, credit.grams);
            total += credit.grams;
        }
        _totalIssued += total;
        emit CreditsIssued(batchId, methodologyId, evidenceHash, credits.length, total);
    }

    /// @notice Whether `device` has already been credited for `day`.
    function isCredited(address device, uint32 day) external view returns (bool) {
        uint32 index = _registry.deviceOf(device).index;
        return _creditedDays[_dayWord(day, index)] & _dayBit(index) != 0;
    }

    /// @notice How many batches have been issued.
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @notice All grams ever issued; always equals totalSupply() + totalRetired().
    function totalIssued() external view returns (uint256) {
        return _totalIssued;
    }

    // ---------------------------------------------------------------- retirement

    /// @notice Retires `amount` grams of the caller's credits for `beneficiary`: they are burned and can never
    /// move again, and the returned number identifies the retirement record (the certificate).
    /// @dev Requires amount above zero, a non-empty beneficiary and texts of at most MAX_TEXT_LENGTH bytes.
    /// Emits ERC-20 {Transfer} to the zero address and {CreditsRetired}.
    function retire(uint256 amount, string calldata beneficiary, string calldata purpose)
        external
        returns (uint256 retirementId)
    {
        if (amount == 0) revert CreditTokenZeroAmount();
        if (bytes(beneficiary).length == 0) revert CreditTokenEmptyBeneficiary();
        _requireTextLength(bytes(beneficiary).length);
        _requireTextLength(bytes(purpose).length);

        _burn(msg.sender, amount);
        _totalRetired += amount;
        _retirements.push(Retirement(msg.sender, uint64(block.timestamp), amount, beneficiary, purpose));
        retirementId = _retirements.length;
        emit CreditsRetired(retirementId, msg.sender, amount, beneficiary, purpose);
    }

    /// @notice The retirement record numbered `retirementId` (from 1).
    function retirement(uint256 retirementId) external view returns (Retirement memory) {
        if (retirementId == 0 || retirementId > _retirements.length) revert CreditTokenUnknownRetirement(retirementId);
        return _retirements[retirementId - 1];
    }

    /// @notice How many retirements have been recorded.
    function retirementCount() external view returns (uint256) {
        return _retirements.length;
    }

    /// @notice All grams ever retired.
    function totalRetired() external view returns (uint256) {
        return _totalRetired;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Credits sent to the token contract itself would be lost; people mistake it for retirement.
    function _update(address from, address to, uint256 value) internal override {
        if (to == address(this)) revert CreditTokenTransferToToken();
        super._update(from, to, value);
    }

    function _markCredited(address device, uint32 index, uint32 day) private {
        uint256 word = _dayWord(day, index);
        uint256 bit = _dayBit(index);
        uint256 bits = _creditedDays[word];
        if (bits & bit != 0) revert CreditTokenDayAlreadyCredited(device, day);
        _creditedDays[word] = bits | bit;
    }

    function _dayWord(uint32 day, uint32 index) private pure returns (uint256) {
        return (uint256(day) << 32) | (index >> 8);
    }

    function _dayBit(uint32 index) private pure returns (uint256) {
        return 1 << (index & 255);
    }

    function _requireMethodology(uint32 methodologyId) private view returns (Methodology storage method) {
        method = _methodologies[methodologyId];
        if (method.maxGramsPerDeviceDay == 0) revert CreditTokenUnknownMethodology(methodologyId);
    }

    function _requireTextLength(uint256 length) private pure {
        if (length > MAX_TEXT_LENGTH) revert CreditTokenTextTooLong(length, MAX_TEXT_LENGTH);
    }
}
