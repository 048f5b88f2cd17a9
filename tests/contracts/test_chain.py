from __future__ import annotations

import pytest
from eth_abi import encode
from eth_tester import PyEVMBackend
from eth_utils import function_signature_to_4byte_selector as selector
from web3.exceptions import TransactionNotFound

from contracts.chain import TESTER, IndexedBackend, Sender, connect, decode_revert
from contracts.client import CreditContracts
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor
from tests.helpers import issue, reverts


def test_a_custom_error_decodes_to_its_name_and_arguments(actors: Actors) -> None:
    data = selector("DeviceRegistryNoOwnerOnDay(address,uint32)") + encode(
        ["address", "uint32"], [actors.driver.address, 19_000]
    )
    revert = decode_revert(data)
    assert (revert.name, revert.args_by_name) == (
        "DeviceRegistryNoOwnerOnDay", {"device": actors.driver.address, "day": 19_000}
    )  # fmt: skip
    assert str(revert) == f"DeviceRegistryNoOwnerOnDay(device={actors.driver.address}, day=19000)"


def test_string_reasons_panics_and_unknown_selectors_decode_too() -> None:
    assert decode_revert(selector("Error(string)") + encode(["string"], ["nope"])).args_by_name == {"reason": "nope"}
    assert decode_revert(selector("Panic(uint256)") + encode(["uint256"], [0x11])).args_by_name == {"code": 0x11}
    unknown = decode_revert(bytes.fromhex("deadbeef"))
    assert (unknown.name, unknown.data) == ("UnknownRevert", "0xdeadbeef")


def test_a_transaction_that_would_revert_is_never_sent(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
) -> None:
    driver: Sender = sender("driver")
    nonce = driver.next_nonce()
    with reverts("AccessControlUnauthorizedAccount"):
        issue(contracts, driver, 1, (ev_device.address, 1))
    assert driver.next_nonce() == nonce


def test_a_signed_transaction_can_be_sent_later_byte_for_byte(
    contracts: CreditContracts, actors: Actors, sender: SenderFor
) -> None:
    driver: Sender = sender("driver")
    signed = driver.sign(contracts.token.functions.approve(actors.buyer.address, 5))
    receipt = driver.send(signed)
    assert receipt["transactionHash"].to_0x_hex() == signed.tx_hash
    assert contracts.token.functions.allowance(actors.driver.address, actors.buyer.address).call() == 5


def test_transactions_are_found_by_hash_as_eth_tester_finds_them_without_its_scan(actors: Actors) -> None:
    """The indexed lookup answers what eth-tester's own scan of every block answers, and after a
    snapshot is reverted a transaction that was undone is not found, though another one took its place."""
    w3 = connect(TESTER)
    backend = w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
    first = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": actors.buyer.address, "value": 1})
    for _ in range(5):
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": actors.driver.address, "value": 1})
    for lookup in (IndexedBackend.get_transaction_receipt, IndexedBackend.get_transaction_by_hash):
        stock = getattr(PyEVMBackend, lookup.__name__)
        assert lookup(backend, bytes(first)) == stock(backend, bytes(first))

    snapshot = w3.provider.ethereum_tester.take_snapshot()  # type: ignore[attr-defined]
    undone = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": actors.buyer.address, "value": 2})
    w3.provider.ethereum_tester.revert_to_snapshot(snapshot)  # type: ignore[attr-defined]
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": actors.driver.address, "value": 3})
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(undone)
