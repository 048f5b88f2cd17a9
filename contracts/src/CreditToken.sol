// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title Green Travel Credit (GTC)
/// @notice An ERC-20 credit for CO2e avoided by travelling greener: 1 token = 1 kg CO2e and, with 3
/// decimals, the smallest unit is 1 gram. Credits are issued only by the oracle, in batches of one UTC day,
/// only up to the ceiling of a published methodology and a global rate limit, at most once per device and
/// day, and always to the device's owner on that day. Each batch records a Merkle root of the claims it
/// pays. Retiring credits burns them for good and records a numbered retirement: the certificate.
/// @dev Roles: the default admin (two-step transfer with a delay, OpenZeppelin's
/// AccessControlDefaultAdminRules) registers methodologies, sets the rate limit and the market;
/// ORACLE_ROLE issues; PAUSER_ROLE pauses minting and transfers. Pausing never moves anyone's credits,
/// and retiring stays possible while paused.
contract CreditToken is ERC20, ERC20Permit, AccessControlDefaultAdminRules, Pausable {
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    uint256 public constant MAX_TEXT_LENGTH = 256;

    /// @dev Bytes per credit in `issueCredits`: uint32 device index, uint32 grams, big-endian.
    uint256 private constant CREDIT_BYTES = 8;
    uint256 private constant NO_WORD = type(uint256).max;

    /// @notice A published methodology version: the hash of its parameter file, where to read it, and the
    /// most grams it can ever award one device for one day (a ceiling a faulty oracle cannot exceed).
    struct Methodology {
        bytes32 paramsHash;
        uint32 maxGramsPerDeviceDay;
        bool active;
        string uri;
    }

    /// @notice The record of one retirement, numbered from 1: whose claim it is, how much, for whom, why,
    /// and optionally the UTC days of the consumption it offsets (0 and 0 when none was given).
    struct Retirement {
        address account;
        uint64 retiredAt;
        uint32 periodStart;
        uint32 periodEnd;
        uint256 amount;
        string beneficiary;
        string purpose;
    }

    DeviceRegistry private immutable _registry;
    address private _market;

    /// @dev Replay guard: one bit per (day, device index). Key = day << 32 | index >> 8, bit = index & 255:
    /// the devices credited for one day share words, which is what a daily batch writes.
    mapping(uint256 dayAndWord => uint256 bits) private _creditedDays;
    mapping(uint32 methodologyId => Methodology) private _methodologies;
    mapping(uint256 batchId => bytes32 root) private _batchRoots;
    uint256 private _batchCount;
    uint256 private _totalIssued;
    uint256 private _totalRetired;
    Retirement[] private _retirements;

    uint128 private _maxGramsPerPeriod;
    uint64 private _periodSeconds;
    uint64 private _periodStart;
    uint128 private _issuedInPeriod;

    /// @notice Batch `batchId` credited the devices of `credits` (packed: uint32 device index, uint32
    /// grams) for UTC `day` under `methodologyId`; `evidenceRoot` is the Merkle root of its claims
    /// (see {creditLeaf}). The owners credited are the ERC-20 {Transfer}s just before this event.
    event CreditsIssued(
        uint256 indexed batchId,
        uint32 indexed methodologyId,
        uint32 indexed day,
        bytes32 evidenceRoot,
        uint256 grams,
        bytes credits
    );
    /// @notice `amount` grams were retired for `account`, for `beneficiary`: every retirement path
    /// ({retire}, {retireFrom}, the market's buy-and-retire) emits this one event.
    event CreditsRetired(
        uint256 indexed retirementId,
        address indexed account,
        uint256 amount,
        string beneficiary,
        string purpose,
        uint32 periodStart,
        uint32 periodEnd
    );
    event MethodologyRegistered(uint32 indexed methodologyId, bytes32 paramsHash, uint32 maxGramsPerDeviceDay, string uri);
    event MethodologyStatusChanged(uint32 indexed methodologyId, bool active);
    event MintRateLimitChanged(uint128 maxGramsPerPeriod, uint64 periodSeconds);
    event MarketChanged(address indexed market);

    error CreditTokenZeroAddress();
    error CreditTokenEmptyBatch();
    error CreditTokenUnknownMethodology(uint32 methodologyId);
    error CreditTokenMethodologyExists(uint32 methodologyId);
    error CreditTokenMethodologyInactive(uint32 methodologyId);
    error CreditTokenZeroCeiling(uint32 methodologyId);
    error CreditTokenDayAlreadyCredited(uint32 deviceIndex, uint32 day);
    error CreditTokenZeroGrams(uint32 deviceIndex, uint32 day);
    error CreditTokenAboveCeiling(uint32 deviceIndex, uint32 day, uint32 grams, uint32 ceiling);
    error CreditTokenInvalidRecipient(address owner);
    error CreditTokenMintRateExceeded(uint256 requested, uint256 available);
    error CreditTokenInvalidRateLimit(uint128 maxGramsPerPeriod, uint64 periodSeconds);
    error CreditTokenUnknownBatch(uint256 batchId);
    error CreditTokenZeroAmount();
    error CreditTokenEmptyBeneficiary();
    error CreditTokenTextTooLong(uint256 length, uint256 maxLength);
    error CreditTokenInvalidPeriod(uint32 periodStart, uint32 periodEnd);
    error CreditTokenUnknownRetirement(uint256 retirementId);
    error CreditTokenTransferToToken();
    error CreditTokenTransferToMarket();
    error CreditTokenNotMarket(address caller);
    error CreditTokenMarketAlreadySet(address market);
    error CreditTokenDayNotEnded(uint32 day, uint256 today);

    /// @param adminDelay Seconds a new default admin waits before taking over.
    /// @param maxGramsPerPeriod The most grams all batches together may issue in one period.
    /// @param periodSeconds The length of that period (for example one day).
    constructor(
        address admin,
        DeviceRegistry registry_,
        uint48 adminDelay,
        uint128 maxGramsPerPeriod,
        uint64 periodSeconds
    ) ERC20("Green Travel Credit", "GTC") ERC20Permit("Green Travel Credit") AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(registry_) == address(0)) revert CreditTokenZeroAddress();
        _registry = registry_;
        _setMintRateLimit(maxGramsPerPeriod, periodSeconds);
    }

    /// @notice 3 decimals: one token is one kilogram of CO2e and one unit is one gram.
    function decimals() public pure override returns (uint8) {
        return 3;
    }

    /// @notice The device registry that decides who receives credits.
    function registry() external view returns (DeviceRegistry) {
        return _registry;
    }

    /// @notice The market allowed to receive transfers (listings) and to retire on a buyer's behalf.
    function market() external view returns (address) {
        return _market;
    }

    // ---------------------------------------------------------------- administration

    /// @notice Publishes a methodology version that mints may name.
    /// @dev Requires DEFAULT_ADMIN_ROLE, a new id and a ceiling above zero. Emits {MethodologyRegistered}.
    function registerMethodology(uint32 methodologyId, bytes32 paramsHash, uint32 maxGramsPerDeviceDay, string calldata uri)
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

    /// @notice Sets the circuit breaker: at most `maxGramsPerPeriod` grams issued per `periodSeconds`.
    /// @dev Requires DEFAULT_ADMIN_ROLE and both values above zero. Emits {MintRateLimitChanged}.
    function setMintRateLimit(uint128 maxGramsPerPeriod, uint64 periodSeconds) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMintRateLimit(maxGramsPerPeriod, periodSeconds);
    }

    /// @notice Names the market contract (see {market}), once: a market holds listings in escrow, and one
    /// replaced would be left without the guard and the right to retire on a buyer's behalf.
    /// @dev Requires DEFAULT_ADMIN_ROLE and no market named yet. Emits {MarketChanged}.
    function setMarket(address market_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_market != address(0)) revert CreditTokenMarketAlreadySet(_market);
        if (market_ == address(0)) revert CreditTokenZeroAddress();
        _market = market_;
        emit MarketChanged(market_);
    }

    /// @notice Stops minting and transfers (retiring stays possible).
    /// @dev Requires PAUSER_ROLE. Emits {Paused}.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes minting and transfers.
    /// @dev Requires PAUSER_ROLE. Emits {Unpaused}.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- issuance

    /// @notice Issues one batch of verified credits for UTC `day`, each to its device's owner on that day.
    /// @param credits Packed credits, 8 bytes each: uint32 device index, uint32 grams (big-endian). Sorted
    /// by device index they cost least: devices next to each other share a word of the replay guard.
    /// @param evidenceRoot The Merkle root of the batch's claims (see {creditLeaf}).
    /// @dev Requires ORACLE_ROLE, not paused, an active methodology, a day that has ended (by the block's
    /// clock), a rate limit not exceeded, and for every credit: a registered active device with an owner
    /// on `day` (checked by the registry), grams above zero and at most the methodology's ceiling, and a
    /// (device, day) never credited before.
    /// Emits an ERC-20 {Transfer} per credit and {CreditsIssued}.
    /// @return batchId The number of this batch, counted from 1.
    function issueCredits(uint32 methodologyId, uint32 day, bytes32 evidenceRoot, bytes calldata credits)
        external
        onlyRole(ORACLE_ROLE)
        whenNotPaused
        returns (uint256 batchId)
    {
        Methodology storage method = _requireMethodology(methodologyId);
        if (!method.active) revert CreditTokenMethodologyInactive(methodologyId);
        if (credits.length == 0) revert CreditTokenEmptyBatch();
        // A day is credited once it is over: nobody can occupy the replay guard of days still to come.
        uint256 today = block.timestamp / 1 days;
        if (day >= today) revert CreditTokenDayNotEnded(day, today);
        bytes memory owners = _registry.creditRecipients(day, credits);
        uint256 total = _mintCredits(day, method.maxGramsPerDeviceDay, credits, owners);
        _consumeRateLimit(total);
        _totalIssued += total;
        batchId = ++_batchCount;
        _batchRoots[batchId] = evidenceRoot;
        emit CreditsIssued(batchId, methodologyId, day, evidenceRoot, total, credits);
    }

    /// @notice The Merkle leaf of one claim: what a batch's evidence root commits to. Double-hashed, as
    /// OpenZeppelin's StandardMerkleTree does, so a leaf can never pass for an inner node.
    function creditLeaf(address device, uint32 day, address owner, uint256 grams, bytes32 reportDigest)
        public
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(device, day, owner, grams, reportDigest))));
    }

    /// @notice Whether a claim is in batch `batchId`'s evidence: anyone holding the signed report and the
    /// proof can check what a credit was issued for.
    function verifyCredit(
        uint256 batchId,
        address device,
        uint32 day,
        address owner,
        uint256 grams,
        bytes32 reportDigest,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (batchId == 0 || batchId > _batchCount) revert CreditTokenUnknownBatch(batchId);
        return MerkleProof.verifyCalldata(proof, _batchRoots[batchId], creditLeaf(device, day, owner, grams, reportDigest));
    }

    /// @notice Whether device number `deviceIndex` has already been credited for `day`.
    function isCredited(uint32 deviceIndex, uint32 day) external view returns (bool) {
        return _creditedDays[(uint256(day) << 32) | (deviceIndex >> 8)] & (1 << (deviceIndex & 255)) != 0;
    }

    /// @notice The evidence root of batch `batchId`.
    function batchRoot(uint256 batchId) external view returns (bytes32) {
        if (batchId == 0 || batchId > _batchCount) revert CreditTokenUnknownBatch(batchId);
        return _batchRoots[batchId];
    }

    /// @notice How many batches have been issued.
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @notice A registered methodology version.
    function methodology(uint32 methodologyId) external view returns (Methodology memory) {
        return _requireMethodology(methodologyId);
    }

    /// @notice The circuit breaker and how much of the current period is used.
    function mintRateLimit()
        external
        view
        returns (uint128 maxGramsPerPeriod, uint64 periodSeconds, uint64 periodStart, uint128 issuedInPeriod)
    {
        return (_maxGramsPerPeriod, _periodSeconds, _periodStart, _issuedInPeriod);
    }

    /// @notice All grams ever issued; always equals totalSupply() + totalRetired().
    function totalIssued() external view returns (uint256) {
        return _totalIssued;
    }

    // ---------------------------------------------------------------- retirement

    /// @notice Retires `amount` grams of the caller's credits for `beneficiary`: they are burned and can
    /// never move again, and the returned number identifies the record (the certificate).
    /// @param periodStart First UTC day of the consumption offset, or 0 with `periodEnd` 0 for none.
    /// @dev Requires amount above zero, a beneficiary, texts of at most MAX_TEXT_LENGTH bytes and a period
    /// that does not end before it starts. Emits {Transfer} to the zero address and {CreditsRetired}.
    function retire(
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        uint32 periodStart,
        uint32 periodEnd
    ) external returns (uint256 retirementId) {
        return _retire(msg.sender, msg.sender, amount, beneficiary, purpose, periodStart, periodEnd);
    }

    /// @notice Retires `amount` grams of `account`'s credits, spending that much of the caller's allowance
    /// (an unlimited allowance, type(uint256).max, stays unlimited, as in OpenZeppelin's ERC-20); the record
    /// is `account`'s.
    /// @dev As {retire}, plus an allowance of at least `amount` from `account` to the caller.
    function retireFrom(
        address account,
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        uint32 periodStart,
        uint32 periodEnd
    ) external returns (uint256 retirementId) {
        _spendAllowance(account, msg.sender, amount);
        return _retire(account, account, amount, beneficiary, purpose, periodStart, periodEnd);
    }

    /// @notice For the market's buy-and-retire: retires credits the market holds for a buyer who just paid
    /// for them; the record is the buyer's.
    /// @dev Only the market (see {setMarket}), and not while paused.
    function retireOnBehalf(
        address account,
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        uint32 periodStart,
        uint32 periodEnd
    ) external whenNotPaused returns (uint256 retirementId) {
        // Paused, the market sells nothing: this is a sale as much as a retirement.
        if (msg.sender != _market || msg.sender == address(0)) revert CreditTokenNotMarket(msg.sender);
        if (account == address(0)) revert CreditTokenZeroAddress();
        return _retire(msg.sender, account, amount, beneficiary, purpose, periodStart, periodEnd);
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

    /// @dev The loop of {issueCredits}: checks each credit, marks its (device, day) in the replay guard and
    /// mints to the owner the registry resolved. Credits next to each other in device order share a word
    /// of the guard, which is written once when the loop moves to another word.
    function _mintCredits(uint32 day, uint32 ceiling, bytes calldata credits, bytes memory owners)
        private
        returns (uint256 total)
    {
        address market_ = _market;
        uint256 wordKey = NO_WORD;
        uint256 bits;
        for (uint256 i = 0; i < credits.length / CREDIT_BYTES;) {
            uint256 packed;
            address owner;
            assembly ("memory-safe") {
                packed := shr(192, calldataload(add(credits.offset, mul(i, CREDIT_BYTES))))
                owner := shr(96, mload(add(add(owners, 32), mul(i, 20))))
            }
            uint32 index = uint32(packed >> 32);
            if (uint32(packed) == 0) revert CreditTokenZeroGrams(index, day);
            if (uint32(packed) > ceiling) revert CreditTokenAboveCeiling(index, day, uint32(packed), ceiling);
            if (owner == address(this) || owner == market_) revert CreditTokenInvalidRecipient(owner);

            uint256 key = (uint256(day) << 32) | (index >> 8);
            if (key != wordKey) {
                if (wordKey != NO_WORD) _creditedDays[wordKey] = bits;
                wordKey = key;
                bits = _creditedDays[key];
            }
            if (bits & (1 << (index & 255)) != 0) revert CreditTokenDayAlreadyCredited(index, day);
            bits |= 1 << (index & 255);

            // The checks of this contract's _update (pause, recipient) were made above, once.
            ERC20._update(address(0), owner, uint32(packed));
            unchecked {
                // At most 2^253 credits of under 2^32 grams each: far below 2^256; i < credits.length / 8.
                total += uint32(packed);
                ++i;
            }
        }
        _creditedDays[wordKey] = bits;
    }

    function _retire(
        address from,
        address account,
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        uint32 periodStart,
        uint32 periodEnd
    ) private returns (uint256 retirementId) {
        if (amount == 0) revert CreditTokenZeroAmount();
        if (bytes(beneficiary).length == 0) revert CreditTokenEmptyBeneficiary();
        _requireTextLength(bytes(beneficiary).length);
        _requireTextLength(bytes(purpose).length);
        if (periodEnd < periodStart) revert CreditTokenInvalidPeriod(periodStart, periodEnd);

        _burn(from, amount);
        _totalRetired += amount;
        _retirements.push(
            Retirement(account, uint64(block.timestamp), periodStart, periodEnd, amount, beneficiary, purpose)
        );
        retirementId = _retirements.length;
        emit CreditsRetired(retirementId, account, amount, beneficiary, purpose, periodStart, periodEnd);
    }

    /// @dev Every movement of credits but a burn: refused while paused, and refused to the token itself
    /// and to the market (people mistake both for retirement) unless the market is moving them there.
    function _update(address from, address to, uint256 value) internal override {
        if (to != address(0)) {
            _requireNotPaused();
            if (to == address(this)) revert CreditTokenTransferToToken();
            if (to == _market && _msgSender() != to) revert CreditTokenTransferToMarket();
        }
        super._update(from, to, value);
    }

    /// @dev Windows are fixed and aligned to multiples of their length, so every node agrees where one
    /// starts; at a boundary, two windows' worth can be issued within seconds (the limit bounds a window,
    /// not any span of its length).
    function _consumeRateLimit(uint256 grams) private {
        uint64 periodSeconds = _periodSeconds;
        uint64 currentStart = uint64(block.timestamp - (block.timestamp % periodSeconds));
        uint256 issued = currentStart == _periodStart ? _issuedInPeriod : 0;
        uint256 limit = _maxGramsPerPeriod;
        uint256 available = limit > issued ? limit - issued : 0; // the limit may have been lowered
        if (grams > available) revert CreditTokenMintRateExceeded(grams, available);
        _periodStart = currentStart;
        _issuedInPeriod = uint128(issued + grams);
    }

    /// @dev What the current window already issued counts against the new limit's current window, so that
    /// changing the period never resets the count.
    function _setMintRateLimit(uint128 maxGramsPerPeriod, uint64 periodSeconds) private {
        if (maxGramsPerPeriod == 0 || periodSeconds == 0) {
            revert CreditTokenInvalidRateLimit(maxGramsPerPeriod, periodSeconds);
        }
        uint64 oldPeriod = _periodSeconds;
        bool windowOpen = oldPeriod != 0 && block.timestamp < uint256(_periodStart) + oldPeriod;
        _issuedInPeriod = windowOpen ? _issuedInPeriod : 0;
        _periodStart = uint64(block.timestamp - (block.timestamp % periodSeconds));
        _maxGramsPerPeriod = maxGramsPerPeriod;
        _periodSeconds = periodSeconds;
        emit MintRateLimitChanged(maxGramsPerPeriod, periodSeconds);
    }

    function _requireMethodology(uint32 methodologyId) private view returns (Methodology storage method) {
        method = _methodologies[methodologyId];
        if (method.maxGramsPerDeviceDay == 0) revert CreditTokenUnknownMethodology(methodologyId);
    }

    function _requireTextLength(uint256 length) private pure {
        if (length > MAX_TEXT_LENGTH) revert CreditTokenTextTooLong(length, MAX_TEXT_LENGTH);
    }
}
