// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Green Travel Credits market
/// @notice Drivers list credits at a price per kilogram in the chain's native currency; the market holds
/// the listed credits in escrow; buyers buy all or part of a listing and sellers withdraw what they earned.
/// @dev Sellers are paid by pull ({withdrawProceeds}), so a seller that cannot receive ether cannot block
/// buyers, and every external call comes after the state it depends on is written.
contract CreditMarket is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev Prices are per kilogram, amounts in grams (the token's smallest unit).
    uint256 private constant GRAMS_PER_KG = 1000;

    struct Listing {
        address seller;
        uint256 remaining;
        uint256 pricePerKg;
    }

    IERC20 private immutable _credits;
    mapping(uint256 listingId => Listing) private _listings;
    uint256 private _listingCount;
    mapping(address seller => uint256 weiOwed) private _proceeds;

    event ListingCreated(uint256 indexed listingId, address indexed seller, uint256 amount, uint256 pricePerKg);
    event ListingFilled(
        uint256 indexed listingId, address indexed buyer, address indexed seller, uint256 amount, uint256 price
    );
    event ListingCancelled(uint256 indexed listingId, address indexed seller, uint256 returned);
    event ProceedsWithdrawn(address indexed seller, uint256 amount);

    error CreditMarketZeroAddress();
    error CreditMarketZeroAmount();
    error CreditMarketZeroPrice();
    error CreditMarketUnknownListing(uint256 listingId);
    error CreditMarketNotSeller(uint256 listingId, address caller);
    error CreditMarketListingClosed(uint256 listingId);
    error CreditMarketInsufficientListing(uint256 listingId, uint256 requested, uint256 remaining);
    error CreditMarketWrongPayment(uint256 expected, uint256 sent);
    error CreditMarketNothingToWithdraw(address seller);
    error CreditMarketPaymentFailed(address seller, uint256 amount);

    constructor(IERC20 credits_) {
        if (address(credits_) == address(0)) revert CreditMarketZeroAddress();
        _credits = credits_;
    }

    /// @notice Lists `amount` grams of the caller's credits at `pricePerKg` wei per kilogram.
    /// @dev The caller must have approved the market for `amount`; the credits move into escrow.
    /// Emits {ListingCreated}.
    /// @return listingId The new listing's number, counted from 1.
    function createListing(uint256 amount, uint256 pricePerKg) external nonReentrant returns (uint256 listingId) {
        if (amount == 0) revert CreditMarketZeroAmount();
        if (pricePerKg == 0) revert CreditMarketZeroPrice();
        listingId = ++_listingCount;
        _listings[listingId] = Listing(msg.sender, amount, pricePerKg);
        emit ListingCreated(listingId, msg.sender, amount, pricePerKg);
        _credits.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Buys `amount` grams from a listing; `msg.value` must equal {priceOf} exactly.
    /// @dev Emits {ListingFilled}; the seller's proceeds grow by the price paid.
    function buy(uint256 listingId, uint256 amount) external payable nonReentrant {
        Listing storage listed = _requireListing(listingId);
        if (amount == 0) revert CreditMarketZeroAmount();
        uint256 remaining = listed.remaining;
        if (remaining == 0) revert CreditMarketListingClosed(listingId);
        if (amount > remaining) revert CreditMarketInsufficientListing(listingId, amount, remaining);
        uint256 price = _priceOf(amount, listed.pricePerKg);
        if (msg.value != price) revert CreditMarketWrongPayment(price, msg.value);

        address seller = listed.seller;
        listed.remaining = remaining - amount;
        _proceeds[seller] += price;
        emit ListingFilled(listingId, msg.sender, seller, amount, price);
        _credits.safeTransfer(msg.sender, amount);
    }

    /// @notice Closes the caller's listing and returns the credits still in escrow.
    /// @dev Only the seller; a listing that is sold out or already cancelled cannot be cancelled again.
    /// Emits {ListingCancelled}.
    function cancelListing(uint256 listingId) external nonReentrant {
        Listing storage listed = _requireListing(listingId);
        if (listed.seller != msg.sender) revert CreditMarketNotSeller(listingId, msg.sender);
        uint256 returned = listed.remaining;
        if (returned == 0) revert CreditMarketListingClosed(listingId);
        listed.remaining = 0;
        emit ListingCancelled(listingId, msg.sender, returned);
        _credits.safeTransfer(msg.sender, returned);
    }

    /// @notice Sends the caller everything buyers have paid for their listings.
    /// @dev Emits {ProceedsWithdrawn}.
    function withdrawProceeds() external nonReentrant {
        uint256 amount = _proceeds[msg.sender];
        if (amount == 0) revert CreditMarketNothingToWithdraw(msg.sender);
        _proceeds[msg.sender] = 0;
        emit ProceedsWithdrawn(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert CreditMarketPaymentFailed(msg.sender, amount);
    }

    /// @notice The wei a buyer pays for `amount` grams of a listing: amount × pricePerKg / 1000, rounded up
    /// so that a seller is never paid less than the listed price.
    function priceOf(uint256 listingId, uint256 amount) external view returns (uint256) {
        return _priceOf(amount, _requireListing(listingId).pricePerKg);
    }

    /// @notice A listing; `remaining` is 0 once it is sold out or cancelled.
    function listing(uint256 listingId) external view returns (Listing memory) {
        return _requireListing(listingId);
    }

    /// @notice How many listings have been created.
    function listingCount() external view returns (uint256) {
        return _listingCount;
    }

    /// @notice Wei that buyers have paid to `seller` and that the seller has not yet withdrawn.
    function proceedsOf(address seller) external view returns (uint256) {
        return _proceeds[seller];
    }

    /// @notice The credit token traded here.
    function credits() external view returns (IERC20) {
        return _credits;
    }

    function _priceOf(uint256 amount, uint256 pricePerKg) private pure returns (uint256) {
        return Math.mulDiv(amount, pricePerKg, GRAMS_PER_KG, Math.Rounding.Ceil);
    }

    function _requireListing(uint256 listingId) private view returns (Listing storage listed) {
        listed = _listings[listingId];
        if (listed.seller == address(0)) revert CreditMarketUnknownListing(listingId);
    }
}
