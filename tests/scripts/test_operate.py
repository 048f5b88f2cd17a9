"""The operator commands (`gtc deploy`, `device`, `role`, `pause`) against a devnet over real HTTP JSON-RPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from contracts.chain import Sender, connect
from contracts.client import CreditContracts, Deployment, DeviceStatus, VehicleClass, artifact_hashes
from oracle.report import ReportDomain
from oracle.schemas import parse_report_line
from oracle.signatures import recover_signer
from scripts.cli import main
from scripts.devnet import Devnet, create_app, start
from scripts.serve import serving
from tests.helpers import issue


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Devnet, str]]:
    devnet = start(tmp_path_factory.mktemp("devnet"))
    with serving(create_app(devnet.w3, devnet.journal.flush)) as url:
        yield devnet, url
    devnet.journal.close()


@pytest.fixture
def gtc(
    devnet: tuple[Devnet, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[object]:
    """Runs `gtc` against the devnet with the key of `role` (a development account) or `key`, or none;
    returns (status, stdout, stderr)."""
    node, url = devnet
    monkeypatch.setenv("GTC_RPC_URL", url)
    monkeypatch.delenv("GTC_KEYSTORE_PASSWORD", raising=False)

    def run(role: str | None, *args: str, key: str | None = None) -> tuple[int, str, str]:
        if role is not None:
            key = "0x" + bytes(node.accounts[role].key).hex()
        if key is None:
            monkeypatch.delenv("GTC_PRIVATE_KEY", raising=False)
        else:
            monkeypatch.setenv("GTC_PRIVATE_KEY", key)
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    yield run


@pytest.fixture
def deployed(gtc, devnet: tuple[Devnet, str], tmp_path: Path) -> tuple[Path, CreditContracts]:
    node, url = devnet
    manifest = tmp_path / "deployment.json"
    oracle, registrar = node.accounts["oracle"].address, node.accounts["registrar"].address
    status, _out, err = gtc("admin", "deploy", "--oracle", oracle, "--registrar", registrar, "--out", str(manifest))
    assert status == 0, err
    return manifest, CreditContracts(connect(url), Deployment.load(manifest))


def test_deploy_writes_a_manifest_of_the_chain_addresses_block_and_artifacts(deployed, devnet) -> None:
    manifest, contracts = deployed
    node, _url = devnet
    written = json.loads(manifest.read_text())
    assert written["chain_id"] == node.w3.eth.chain_id
    assert written["artifacts"] == artifact_hashes()
    assert node.w3.eth.get_block(written["block"])["transactions"], "the manifest's block holds the first deployment"
    oracle_role = contracts.role(contracts.token, "ORACLE_ROLE")
    assert contracts.token.functions.hasRole(oracle_role, node.accounts["oracle"].address).call()
    assert contracts.token.functions.methodology(1).call()[0] != b"\0" * 32


def test_a_manifest_is_never_overwritten(gtc, deployed, devnet) -> None:
    manifest, _contracts = deployed
    before = manifest.read_text()
    address = devnet[0].accounts["admin"].address
    status, _out, err = gtc("admin", "deploy", "--oracle", address, "--registrar", address, "--out", str(manifest))
    assert status == 1 and "never overwritten" in err
    assert manifest.read_text() == before


def test_register_suspend_and_reactivate_a_device(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    device, owner = Account.create().address, devnet[0].accounts["driver"].address
    args = ("--deployment", str(manifest))
    status, out, err = gtc("registrar", "device", "register", device, "--owner", owner, "--vehicle", "electric", *args)
    assert status == 0, err
    assert f"registered {device} (electric) for {owner}" in out
    record = contracts.device(device)
    assert record is not None and record.owner == owner and record.vehicle_class is VehicleClass.BATTERY_ELECTRIC
    assert gtc("registrar", "device", "suspend", device, *args)[0] == 0
    assert contracts.device(device).status is DeviceStatus.SUSPENDED
    assert gtc("registrar", "device", "reactivate", device, *args)[0] == 0
    assert contracts.device(device).status is DeviceStatus.ACTIVE


def test_a_refused_command_names_the_custom_error_and_sends_nothing(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    driver = devnet[0].accounts["driver"].address
    nonce = contracts.w3.eth.get_transaction_count(driver)
    status, _out, err = gtc(
        "driver", "device", "register", Account.create().address, "--owner", driver, "--vehicle", "petrol",
        "--deployment", str(manifest),
    )  # fmt: skip
    assert status == 1
    assert "AccessControlUnauthorizedAccount" in err
    assert contracts.w3.eth.get_transaction_count(driver) == nonce


def test_grant_and_revoke_the_pauser_role_on_token_and_market(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    buyer = devnet[0].accounts["buyer"].address
    pauser = contracts.role(contracts.token, "PAUSER_ROLE")
    assert gtc("admin", "role", "grant", "pauser", buyer, "--deployment", str(manifest))[0] == 0
    assert contracts.token.functions.hasRole(pauser, buyer).call()
    assert contracts.market.functions.hasRole(pauser, buyer).call()
    assert gtc("buyer", "pause", "market", "--deployment", str(manifest))[0] == 0
    assert contracts.market.functions.paused().call() and not contracts.token.functions.paused().call()
    status, out, _err = gtc("buyer", "pause", "--deployment", str(manifest))
    assert status == 0 and "market: paused (already)" in out
    assert contracts.token.functions.paused().call()
    assert gtc("buyer", "unpause", "--deployment", str(manifest))[0] == 0
    assert not contracts.token.functions.paused().call() and not contracts.market.functions.paused().call()
    assert gtc("admin", "role", "revoke", "pauser", buyer, "--deployment", str(manifest))[0] == 0
    assert not contracts.token.functions.hasRole(pauser, buyer).call()
    assert not contracts.market.functions.hasRole(pauser, buyer).call()


def test_a_keystore_file_signs_in_place_of_the_environment(gtc, deployed, devnet, tmp_path, monkeypatch) -> None:
    manifest, contracts = deployed
    admin = devnet[0].accounts["admin"]
    keystore = tmp_path / "admin.json"
    keystore.write_text(json.dumps(Account.encrypt(admin.key, "correct horse", kdf="pbkdf2", iterations=2_000)))
    buyer = devnet[0].accounts["buyer"].address
    grant = ("role", "grant", "registrar", buyer, "--keystore", str(keystore), "--deployment", str(manifest))

    status, _out, err = gtc(None, *grant)
    assert status == 1 and "GTC_KEYSTORE_PASSWORD" in err
    monkeypatch.setenv("GTC_KEYSTORE_PASSWORD", "wrong")
    status, _out, err = gtc(None, *grant)
    assert status == 1 and "cannot unlock the keystore" in err
    monkeypatch.setenv("GTC_KEYSTORE_PASSWORD", "correct horse")
    assert gtc(None, *grant)[0] == 0
    assert contracts.registry.functions.hasRole(contracts.role(contracts.registry, "REGISTRAR_ROLE"), buyer).call()


@pytest.mark.parametrize(
    ("key", "message"), [(None, "no key: set GTC_PRIVATE_KEY"), ("0x1234", "not a 32-byte hex private key")]
)
def test_a_missing_or_malformed_key_is_named(gtc, deployed, key, message) -> None:
    manifest, _contracts = deployed
    status, _out, err = gtc(None, "pause", "--deployment", str(manifest), key=key)
    assert status == 1 and message in err


def test_a_manifest_of_another_chain_is_refused(gtc, deployed, tmp_path) -> None:
    manifest, _contracts = deployed
    other = tmp_path / "other.json"
    other.write_text(manifest.read_text().replace('"chain_id": ', '"chain_id": 1'))
    status, _out, err = gtc("admin", "pause", "--deployment", str(other))
    assert status == 1 and "is for chain 1" in err


def test_sample_trips_registers_the_sample_s_cars_and_signs_days_that_end_yesterday(gtc, deployed, tmp_path) -> None:
    manifest, contracts = deployed
    out = tmp_path / "reports.jsonl"
    status, text, err = gtc("registrar", "sample-trips", "--deployment", str(manifest), "--out", str(out))
    assert status == 0, err
    assert text.count("(registered)") == 7
    lines = [parse_report_line(line) for line in out.read_text().splitlines()]
    assert len(lines) == 25
    assert max(signed.report.day for signed in lines) == contracts.chain_day() - 1
    domain = ReportDomain.from_eip712(contracts.report_domain())
    for signed in lines:
        assert recover_signer(domain.digest(signed.report), signed.signature) == signed.report.device
        assert contracts.device(signed.report.device) is not None
    # Run again, the cars are kept and the same reports signed.
    status, text, _err = gtc("registrar", "sample-trips", "--deployment", str(manifest), "--out", str(out))
    assert status == 0 and text.count("(already registered)") == 7
    assert [parse_report_line(line) for line in out.read_text().splitlines()] == lines


def credit_driver(gtc, contracts: CreditContracts, node: Devnet, args: tuple[str, ...], *, grams: int) -> str:
    """Register a new electric car to the devnet's driver and credit it `grams` for yesterday; the driver."""
    driver, device = node.accounts["driver"].address, Account.create().address
    assert gtc("registrar", "device", "register", device, "--owner", driver, "--vehicle", "electric", *args)[0] == 0
    issue(contracts, Sender(contracts.w3, node.accounts["oracle"]), contracts.chain_day() - 1, (device, grams))
    return driver


def test_a_driver_lists_credits_cancels_the_rest_and_withdraws_what_a_buyer_paid(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    node, args = devnet[0], ("--deployment", str(manifest))
    driver = credit_driver(gtc, contracts, node, args, grams=1750)

    status, out, err = gtc("driver", "market", "list", "1500", "--price-per-kg-wei", str(10**15), *args)
    assert status == 0, err
    listing_id = int(out.split(":")[0].removeprefix("listing "))
    assert f"1.500 kg of {driver} at {10**15} wei/kg" in out
    assert contracts.balance_of(driver) == 250 and contracts.balance_of(contracts.market.address) == 1500

    buyer = Sender(contracts.w3, node.accounts["buyer"])
    buyer.transact(contracts.market.functions.buy(listing_id, 400), value=4 * 10**14)
    status, out, err = gtc("driver", "market", "cancel", str(listing_id), *args)
    assert (status, out.strip()) == (0, f"listing {listing_id} cancelled: 1.100 kg back to {driver}")
    assert contracts.balance_of(driver) == 1350
    status, out, err = gtc("driver", "market", "withdraw", *args)
    assert (status, out.strip()) == (0, f"withdrew {4 * 10**14} wei to {driver}")


def test_a_listing_the_driver_cannot_cover_is_refused_before_anything_is_sent(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    driver = devnet[0].accounts["driver"].address
    nonce = contracts.w3.eth.get_transaction_count(driver)
    status, _out, err = gtc("driver", "market", "list", "1", "--price-per-kg-wei", "5", "--deployment", str(manifest))
    assert status == 1 and "holds 0.000 kg, less than the 0.001 kg to list" in err
    status, _out, err = gtc("driver", "market", "cancel", "7", "--deployment", str(manifest))
    assert status == 1 and "CreditMarketUnknownListing" in err
    assert contracts.w3.eth.get_transaction_count(driver) == nonce
    with pytest.raises(SystemExit):
        main(["market", "list", "0", "--price-per-kg-wei", "5"])


def test_sample_trips_can_register_every_car_to_one_driver_s_wallet(gtc, deployed, devnet, tmp_path) -> None:
    manifest, contracts = deployed
    driver = devnet[0].accounts["driver"].address
    out, args = tmp_path / "reports.jsonl", ("--deployment", str(manifest))
    status, text, err = gtc("registrar", "sample-trips", "--owner", driver, "--out", str(out), *args)
    assert status == 0, err
    devices = {parse_report_line(line).report.device for line in out.read_text().splitlines()}
    assert len(devices) == 7 and {contracts.device(device).owner for device in devices} == {driver}
    assert text.count(f"owner {driver} (registered)") == 7


def test_a_listing_on_a_paused_market_is_refused_before_the_approval_is_sent(gtc, deployed, devnet) -> None:
    manifest, contracts = deployed
    node, args = devnet[0], ("--deployment", str(manifest))
    driver = credit_driver(gtc, contracts, node, args, grams=1750)
    assert gtc("admin", "role", "grant", "pauser", node.accounts["admin"].address, *args)[0] == 0
    assert gtc("admin", "pause", "market", *args)[0] == 0
    nonce = contracts.w3.eth.get_transaction_count(driver)
    status, _out, err = gtc("driver", "market", "list", "500", "--price-per-kg-wei", "1000", *args)
    assert status == 1 and "paused (EnforcedPause): nothing was sent" in err
    assert contracts.w3.eth.get_transaction_count(driver) == nonce


@pytest.mark.parametrize(
    "content", ["{}", "not json", '{"chain_id": 1, "registry": "0x12", "token": "x", "market": "y", "block": 0}']
)
def test_a_manifest_that_is_not_one_is_named(gtc, deployed, tmp_path, content) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    status, _out, err = gtc("driver", "market", "withdraw", "--deployment", str(broken))
    assert status == 1 and "is not a deployment manifest" in err
    status, _out, err = gtc("driver", "market", "withdraw", "--deployment", str(tmp_path))
    assert status == 1 and "is not a deployment manifest" in err


def test_a_manifest_naming_an_address_without_code_is_stale(gtc, deployed, tmp_path) -> None:
    manifest, contracts = deployed
    stale = tmp_path / "stale.json"
    stale.write_text(
        manifest.read_text().replace(contracts.deployment.market, "0x000000000000000000000000000000000000dEaD")
    )
    status, _out, err = gtc("driver", "market", "withdraw", "--deployment", str(stale))
    assert status == 1 and "(market) on this node" in err


@pytest.mark.parametrize("amount", [str(2**256), "١٢", "1e3"])
def test_amounts_outside_uint256_or_not_ascii_digits_are_refused_by_the_parser(amount: str) -> None:
    with pytest.raises(SystemExit):
        main(["market", "cancel", amount])
