// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {CreditToken} from "./CreditToken.sol";

/// @title Green Travel Credits market
/// @notice Drivers list credits at a price per kilogram in the chain's native currency; the market holds
/// the listed credits in escrow. Buyers buy all or part of one listing, or fill an amount across many
/// listings in one transaction under the most they are willing to pay (a bank buying 10 t buys from
/// thousands of drivers), and may retire what they buy in the same transaction. A buyer pays exactly the
/// price: whatever was sent above it is refunded. Sellers withdraw what they earned.
/// @dev Sellers are paid by pull ({withdrawProceeds}), so a seller that cannot receive ether cannot block
/// buyers. Every external call comes after the state it depends on is written, and every function that
/// moves value is nonReentrant. An optional protocol fee, at most MAX_FEE_BPS, is taken from the seller's
/// proceeds. Roles: the default admin sets the fee; PAUSER_ROLE pauses listing and buying.
contract CreditMarket is AccessControlDefaultAdminRules, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The protocol fee can never exceed 5% of a sale.
    uint16 public constant MAX_FEE_BPS = 500;

    uint256 private constant BPS = 10_000;
    /// @dev Prices are per kilogram, amounts in grams (the token's smallest unit).
    uint256 private constant GRAMS_PER_KG = 1000;

    struct Listing {
        address seller;
        uint256 remaining;
        uint256 pricePerKg;
    }

    CreditToken private immutable _credits;
    mapping(uint256 listingId => Listing) private _listings;
    uint256 private _listingCount;
    mapping(address account => uint256 weiOwed) private _proceeds;
    address private _feeRecipient;
    uint16 private _feeBps;

    event ListingCreated(uint256 indexed listingId, address indexed seller, uint256 amount, uint256 pricePerKg);
    /// @notice `buyer` bought `amount` grams of a listing for `price` wei, `fee` of which went to the protocol.
    event ListingFilled(
        uint256 indexed listingId, address indexed buyer, address indexed seller, uint256 amount, uint256 price, uint256 fee
    );
    event ListingCancelled(uint256 indexed listingId, address indexed seller, uint256 returned);
    /// @notice An order across listings was filled; `retirementId` is 0 unless the credits were retired.
    event OrderFilled(address indexed buyer, uint256 amount, uint256 price, uint256 listings, uint256 retirementId);
    event ProceedsWithdrawn(address indexed account, uint256 amount);
    event FeeChanged(uint16 feeBps, address indexed recipient);

    error CreditMarketZeroAddress();
    error CreditMarketZeroAmount();
    error CreditMarketZeroPrice();
    error CreditMarketUnknownListing(uint256 listingId);
    error CreditMarketListingClosed(uint256 listingId);
    error CreditMarketNotSeller(uint256 listingId, address caller);
    error CreditMarketInsufficientListing(uint256 listingId, uint256 requested, uint256 remaining);
    error CreditMarketOrderNotFilled(uint256 requested, uint256 available);
    error CreditMarketInsufficientPayment(uint256 price, uint256 sent);
    error CreditMarketRefundFailed(address buyer, uint256 amount);
    error CreditMarketNothingToWithdraw(address account);
    error CreditMarketPaymentFailed(address account, uint256 amount);
    error CreditMarketFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error CreditMarketInvalidFeeRecipient(address recipient);

    constructor(address admin, CreditToken credits_, uint48 adminDelay) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(credits_) == address(0)) revert CreditMarketZeroAddress();
        _credits = credits_;
    }

    // ---------------------------------------------------------------- sellers

    /// @notice Lists `amount` grams of the caller's credits at `pricePerKg` wei per kilogram.
    /// @dev The caller must have approved the market for `amount`; the credits move into escrow.
    /// Emits {ListingCreated}.
    /// @return listingId The new listing's number, counted from 1.
    function createListing(uint256 amount, uint256 pricePerKg) external whenNotPaused nonReentrant returns (uint256 listingId) {
        if (amount == 0) revert CreditMarketZeroAmount();
        if (pricePerKg == 0) revert CreditMarketZeroPrice();
        listingId = ++_listingCount;
        _listings[listingId] = Listing(msg.sender, amount, pricePerKg);
        emit ListingCreated(listingId, msg.sender, amount, pricePerKg);
        IERC20(address(_credits)).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Closes the caller's listing and returns the credits still in escrow.
    /// @dev Only the seller, and only while something is left. Emits {ListingCancelled}.
    function cancelListing(uint256 listingId) external nonReentrant {
        Listing storage listed = _requireListing(listingId);
        if (listed.seller != msg.sender) revert CreditMarketNotSeller(listingId, msg.sender);
        uint256 returned = listed.remaining;
        if (returned == 0) revert CreditMarketListingClosed(listingId);
        listed.remaining = 0;
        emit ListingCancelled(listingId, msg.sender, returned);
        IERC20(address(_credits)).safeTransfer(msg.sender, returned);
    }

    /// @notice Sends the caller everything buyers have paid them (and, for the fee recipient, the fees).
    /// @dev Emits {ProceedsWithdrawn}.
    function withdrawProceeds() external nonReentrant {
        uint256 amount = _proceeds[msg.sender];
        if (amount == 0) revert CreditMarketNothingToWithdraw(msg.sender);
        _proceeds[msg.sender] = 0;
        emit ProceedsWithdrawn(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert CreditMarketPaymentFailed(msg.sender, amount);
    }

    // ---------------------------------------------------------------- buyers

    /// @notice Buys `amount` grams of one listing for {priceOf}; anything sent above the price is refunded.
    /// @dev Emits {ListingFilled}.
    function buy(uint256 listingId, uint256 amount) external payable whenNotPaused nonReentrant {
        if (amount == 0) revert CreditMarketZeroAmount();
        Listing storage listed = _requireListing(listingId);
        uint256 remaining = listed.remaining;
        if (remaining == 0) revert CreditMarketListingClosed(listingId);
        if (amount > remaining) revert CreditMarketInsufficientListing(listingId, amount, remaining);
        uint256 price = _fill(listingId, listed, amount);
        _settle(price);
        IERC20(address(_credits)).safeTransfer(msg.sender, amount);
        _refund(price);
    }

    /// @notice Buys `amount` grams across `listingIds`, in the order given (cheapest first is the caller's
    /// choice: {quote} and the backend's quote do it), taking what each still has; listings sold out or
    /// cancelled since are skipped. The value sent is the most the caller pays; the rest is refunded.
    /// @dev Reverts with {CreditMarketOrderNotFilled} if the listings hold less than `amount`, and with
    /// {CreditMarketInsufficientPayment} if they cost more than was sent. Emits {ListingFilled} per
    /// listing and {OrderFilled}.
    /// @return price The wei paid.
    function fillOrder(uint256 amount, uint256[] calldata listingIds)
        external
        payable
        whenNotPaused
        nonReentrant
        returns (uint256 price)
    {
        price = _fillOrder(amount, listingIds);
        _settle(price);
        IERC20(address(_credits)).safeTransfer(msg.sender, amount);
        emit OrderFilled(msg.sender, amount, price, listingIds.length, 0);
        _refund(price);
    }

    /// @notice {fillOrder}, and the credits bought are retired at once for `beneficiary`; the retirement
    /// record is the caller's.
    /// @return price The wei paid.
    /// @return retirementId The number of the retirement record.
    function buyAndRetire(
        uint256 amount,
        uint256[] calldata listingIds,
        string calldata beneficiary,
        string calldata purpose,
        uint32 periodStart,
        uint32 periodEnd
    ) external payable whenNotPaused nonReentrant returns (uint256 price, uint256 retirementId) {
        price = _fillOrder(amount, listingIds);
        _settle(price);
        retirementId = _credits.retireOnBehalf(msg.sender, amount, beneficiary, purpose, periodStart, periodEnd);
        emit OrderFilled(msg.sender, amount, price, listingIds.length, retirementId);
        _refund(price);
    }

    // ---------------------------------------------------------------- administration

    /// @notice Sets the protocol fee, taken from the seller's proceeds of each sale.
    /// @dev Requires DEFAULT_ADMIN_ROLE, at most MAX_FEE_BPS, and a recipient unless the fee is 0.
    /// Emits {FeeChanged}.
    function setFee(uint16 feeBps, address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps > MAX_FEE_BPS) revert CreditMarketFeeTooHigh(feeBps, MAX_FEE_BPS);
        if (feeBps != 0 && recipient == address(0)) revert CreditMarketZeroAddress();
        if (recipient == address(this)) revert CreditMarketInvalidFeeRecipient(recipient);
        _feeBps = feeBps;
        _feeRecipient = recipient;
        emit FeeChanged(feeBps, recipient);
    }

    /// @notice Stops listing and buying; cancelling and withdrawing stay possible.
    /// @dev Requires PAUSER_ROLE. Emits {Paused}.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @dev Requires PAUSER_ROLE. Emits {Unpaused}.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- reads

    /// @notice The wei a buyer pays for `amount` grams of a listing: amount × pricePerKg / 1000, rounded up
    /// so that a seller is never paid less than the listed price.
    function priceOf(uint256 listingId, uint256 amount) external view returns (uint256) {
        return _priceOf(amount, _requireListing(listingId).pricePerKg);
    }

    /// @notice What {fillOrder} would take from `listingIds` for `amount` grams: the price, and how much the
    /// listings hold together (less than `amount` means the order would not fill).
    function quote(uint256 amount, uint256[] calldata listingIds) external view returns (uint256 price, uint256 available) {
        uint256 left = amount;
        for (uint256 i = 0; i < listingIds.length && left > 0; ++i) {
            Listing storage listed = _requireListing(listingIds[i]);
            uint256 take = Math.min(listed.remaining, left);
            price += _priceOf(take, listed.pricePerKg);
            left -= take;
        }
        available = amount - left;
    }

    /// @notice A listing; `remaining` is 0 once it is sold out or cancelled.
    function listing(uint256 listingId) external view returns (Listing memory) {
        return _requireListing(listingId);
    }

    function listingCount() external view returns (uint256) {
        return _listingCount;
    }

    /// @notice Wei owed to `account` (a seller, or the fee recipient) and not yet withdrawn.
    function proceedsOf(address account) external view returns (uint256) {
        return _proceeds[account];
    }

    /// @notice The protocol fee in basis points, and who receives it.
    function fee() external view returns (uint16 feeBps, address recipient) {
        return (_feeBps, _feeRecipient);
    }

    /// @notice The credit token traded here.
    function credits() external view returns (CreditToken) {
        return _credits;
    }

    // ---------------------------------------------------------------- internals

    function _fillOrder(uint256 amount, uint256[] calldata listingIds) private returns (uint256 price) {
        if (amount == 0) revert CreditMarketZeroAmount();
        uint256 left = amount;
        for (uint256 i = 0; i < listingIds.length && left > 0; ++i) {
            Listing storage listed = _requireListing(listingIds[i]);
            uint256 take = Math.min(listed.remaining, left);
            if (take == 0) continue; // sold out or cancelled since the buyer looked
            price += _fill(listingIds[i], listed, take);
            left -= take;
        }
        if (left != 0) revert CreditMarketOrderNotFilled(amount, amount - left);
    }

    /// @dev Takes `amount` from a listing and credits its seller (and the fee recipient); no transfer.
    function _fill(uint256 listingId, Listing storage listed, uint256 amount) private returns (uint256 price) {
        price = _priceOf(amount, listed.pricePerKg);
        uint256 protocolFee = price * _feeBps / BPS;
        address seller = listed.seller;
        listed.remaining -= amount;
        _proceeds[seller] += price - protocolFee;
        if (protocolFee != 0) _proceeds[_feeRecipient] += protocolFee;
        emit ListingFilled(listingId, msg.sender, seller, amount, price, protocolFee);
    }

    function _settle(uint256 price) private view {
        if (msg.value < price) revert CreditMarketInsufficientPayment(price, msg.value);
    }

    /// @dev Last, after every state change: returns what was sent above the price.
    function _refund(uint256 price) private {
        uint256 change = msg.value - price;
        if (change == 0) return;
        (bool sent,) = msg.sender.call{value: change}("");
        if (!sent) revert CreditMarketRefundFailed(msg.sender, change);
    }

    function _priceOf(uint256 amount, uint256 pricePerKg) private pure returns (uint256) {
        return Math.mulDiv(amount, pricePerKg, GRAMS_PER_KG, Math.Rounding.Ceil);
    }

    function _requireListing(uint256 listingId) private view returns (Listing storage listed) {
        listed = _listings[listingId];
        if (listed.seller == address(0)) revert CreditMarketUnknownListing(listingId);
    }
}
