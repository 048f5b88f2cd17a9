// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @dev Benchmark baseline, never deployed outside benchmarks: OpenZeppelin's ERC-20 with an open mint,
/// to measure a plain `_mint` beside the credit token's issuance in the same run.
contract BaselineToken is ERC20 {
    constructor() ERC20("Baseline", "BASE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function mintBatch(address[] calldata to, uint256[] calldata amounts) external {
        for (uint256 i = 0; i < to.length; ++i) {
            _mint(to[i], amounts[i]);
        }
    }
}
