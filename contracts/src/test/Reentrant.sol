// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CreditMarket} from "../CreditMarket.sol";

/// @dev Test double, never deployed outside tests: a buyer that overpays and, when the market refunds
/// the change, tries to buy again from inside the refund.
contract ReentrantBuyer {
    CreditMarket private immutable _market;
    uint256 private _listingId;
    uint256 public reentryAttempts;

    constructor(CreditMarket market) {
        _market = market;
    }

    function buy(uint256 listingId, uint256 amount) external payable {
        _listingId = listingId;
        _market.buy{value: msg.value}(listingId, amount);
    }

    receive() external payable {
        ++reentryAttempts;
        _market.buy{value: msg.value}(_listingId, 1);
    }
}

/// @dev Test double, never deployed outside tests: a seller that, when paid, tries to withdraw again.
contract ReentrantSeller {
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

    receive() external payable {
        _market.withdrawProceeds();
    }
}
