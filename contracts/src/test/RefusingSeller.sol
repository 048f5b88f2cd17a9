// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CreditMarket} from "../CreditMarket.sol";

/// @dev Test double, never deployed outside tests: a seller contract that cannot receive ether, to show
/// that a failed payout reverts and leaves the proceeds owed.
contract RefusingSeller {
    CreditMarket private immutable _market;

    constructor(CreditMarket market) {
        _market = market;
    }

    function list(uint256 amount, uint256 pricePerKg) external {
        _market.credits().approve(address(_market), amount);
        _market.createListing(amount, pricePerKg);
    }

    function withdraw() external {
        _market.withdrawProceeds();
    }
}
