from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
import solcx

from contracts.artifacts import BUILD_DIR, CONTRACT_NAMES, load_artifact
from contracts.compiler import (
    PACKAGE_JSON,
    PROJECT_ROOT,
    SOLCJS_WRAPPER,
    CompilerNotFound,
    Pins,
    compile_all,
    resolve_solc,
    source_hash,
    standard_input,
)
from contracts.docs import DOCS_PATH, render
from contracts.solcjs_wrapper import translate


def test_committed_artifacts_were_built_from_the_current_sources() -> None:
    """Fails when a .sol file, the settings or a pinned version changed without `make contracts`."""
    expected = source_hash(Pins.from_package_json(), standard_input())
    stale = [path.name for path in BUILD_DIR.glob("*.json") if json.loads(path.read_text())["sourceHash"] != expected]
    assert not stale, f"stale artifacts {stale}: run `make contracts` and commit contracts/build"


def test_the_contracts_reference_is_rendered_from_the_current_artifacts() -> None:
    assert DOCS_PATH.read_text() == render(), "docs/CONTRACTS.md is stale: run `make contracts`"


def test_every_deployable_contract_has_an_artifact_with_its_compiler() -> None:
    pins = Pins.from_package_json()
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.compiler.startswith(pins.solc + "+commit.")
        # The CBOR metadata at the end of the bytecode names the compiler: "solc" and its version bytes.
        major, minor, patch = (int(part) for part in pins.solc.split("."))
        assert artifact.deployed_bytecode.endswith(f"64736f6c6343{major:02x}{minor:02x}{patch:02x}0033")


def test_package_json_pins_exact_versions() -> None:
    for name, version in json.loads(PACKAGE_JSON.read_text())["dependencies"].items():
        assert version[0].isdigit(), f"{name} is pinned to a range ({version}), not one version"


@pytest.mark.compiler
def test_recompiling_reproduces_the_committed_artifacts() -> None:
    try:
        artifacts = compile_all()
    except CompilerNotFound as exc:
        pytest.skip(f"no Solidity compiler here ({exc}); the hash check above still guards staleness")
    for name, artifact in artifacts.items():
        committed = load_artifact(name)
        assert artifact.abi == committed.abi, f"{name}: ABI differs from contracts/build"
        assert artifact.bytecode == committed.bytecode, f"{name}: bytecode differs from contracts/build"


def test_the_wrapper_speaks_solcjs() -> None:
    assert translate(["--standard-json", "--base-path", "/p", "--allow-paths", "/p,/q"]) == [
        "--standard-json", "--base-path", "/p"
    ]  # fmt: skip
    assert translate(["--standard-json"])[-2] == "--base-path"
    assert translate(["--version"]) == ["--version"]
    assert os.stat(SOLCJS_WRAPPER).st_mode & stat.S_IXUSR, "py-solc-x runs the wrapper as an executable"


def test_an_explicit_compiler_of_another_version_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "solc"
    fake.write_text("#!/bin/sh\necho 'solc, the solidity compiler'\necho 'Version: 0.8.1+commit.df193b15.Linux.g++'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("GTC_SOLC", str(fake))
    pinned = Pins.from_package_json().solc
    with pytest.raises(CompilerNotFound, match=re.escape(f"is solc 0.8.1, the project pins {pinned}")):
        resolve_solc(pinned)


def test_a_solc_installed_for_py_solc_x_comes_before_any_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = Pins.from_package_json().solc
    installed = tmp_path / f"solc-v{pinned}"
    installed.write_text(f"#!/bin/sh\necho 'Version: {pinned}+commit.7893614a.Linux.g++'\n")
    installed.chmod(0o755)
    monkeypatch.delenv("GTC_SOLC", raising=False)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path))
    monkeypatch.setattr(solcx, "install_solc", _no_download)
    assert resolve_solc(pinned) == installed


def test_without_a_download_the_npm_compiler_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for the internet, which this machine cannot reach: the download fails as it does offline.
    monkeypatch.delenv("GTC_SOLC", raising=False)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path))
    monkeypatch.setattr(solcx, "install_solc", _no_download)
    if shutil.which("node") is None or not (PROJECT_ROOT / "node_modules" / "solc").is_dir():
        pytest.skip("no Node.js, or npm's solc is not installed (npm ci)")
    assert resolve_solc(Pins.from_package_json().solc) == SOLCJS_WRAPPER


def _no_download(*_args: object, **_kwargs: object) -> None:
    raise ConnectionError("no internet here")
