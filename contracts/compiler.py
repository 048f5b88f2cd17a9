"""Compile the Solidity sources with py-solc-x and write the artifacts the rest of the system loads.

The compiler version and the OpenZeppelin version are pinned once, in `package.json`. Running the system
never needs a compiler: the artifacts in `contracts/build/` are committed, and carry the compiler version
and a hash of everything that went into them, so a test can tell when they are stale.

The compiler is resolved in this order:
1. `GTC_SOLC`, an explicit path to a `solc` executable;
2. a `solc` of the pinned version already installed for py-solc-x;
3. py-solc-x's own download (needs the internet);
4. the npm build of the same version (`npm ci`), driven through `solcjs_wrapper.py`.
Every route goes through py-solc-x's `compile_standard`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from packaging.version import Version
from solcx.exceptions import SolcError, SolcInstallationError
from solcx.install import get_executable

from contracts.artifacts import BUILD_DIR, SOURCE_DIR, Artifact

log = logging.getLogger(__name__)

PROJECT_ROOT = SOURCE_DIR.parent.parent
PACKAGE_JSON = PROJECT_ROOT / "package.json"
SOLCJS_WRAPPER = Path(__file__).with_name("solcjs_wrapper.py")

SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    # The IR pipeline compiles the issuance loop tighter (10,375 instead of 10,861 gas per credit in a
    # batch of 500, see BENCHMARKS.md) and is not limited to 16 stack slots.
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 200},
    "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "userdoc", "devdoc"]}},
}


class CompilerNotFound(RuntimeError):
    """No route to a compiler of the pinned version."""


class CompilationFailed(RuntimeError):
    """The sources do not compile; the message holds the compiler's errors."""


@dataclass(frozen=True)
class Pins:
    solc: str
    openzeppelin: str

    @classmethod
    def from_package_json(cls, path: Path = PACKAGE_JSON) -> Pins:
        dependencies = json.loads(path.read_text())["dependencies"]
        return cls(solc=dependencies["solc"], openzeppelin=dependencies["@openzeppelin/contracts"])


def standard_input() -> dict[str, Any]:
    """The compiler's standard-JSON input: every source under contracts/src (test doubles in src/test
    included), keyed by its path in the repository."""
    sources = {
        path.relative_to(PROJECT_ROOT).as_posix(): {"content": path.read_text()}
        for path in sorted(SOURCE_DIR.rglob("*.sol"))
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def source_hash(pins: Pins, compiler_input: dict[str, Any]) -> str:
    """sha256 of the pinned versions, the sources and the settings: what the artifacts are built from."""
    material = {"solc": pins.solc, "openzeppelin": pins.openzeppelin, "input": compiler_input}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def resolve_solc(version: str) -> Path:
    """A path to a `solc` executable of exactly `version`, by the order in the module docstring."""
    explicit = os.environ.get("GTC_SOLC")
    if explicit:
        return _checked(Path(explicit), version)
    wanted = Version(version)
    if wanted in solcx.get_installed_solc_versions():
        return _checked(get_executable(wanted), version)
    try:
        solcx.install_solc(wanted)
        return _checked(get_executable(wanted), version)
    except (SolcInstallationError, OSError) as exc:  # requests' errors are OSErrors
        log.info("py-solc-x cannot download solc %s (%s); trying the npm build", version, type(exc).__name__)
    try:
        return _checked(SOLCJS_WRAPPER, version)
    except (OSError, SolcError, subprocess.CalledProcessError) as exc:
        raise CompilerNotFound(
            f"no solc {version}: set GTC_SOLC, or run `npm ci` so that node_modules/solc exists ({exc})"
        ) from exc


def _checked(binary: Path, version: str) -> Path:
    found = solcx.wrapper.get_solc_version(binary)
    if found != Version(version):
        raise CompilerNotFound(f"{binary} is solc {found}, the project pins {version}")
    return binary


def compile_all(pins: Pins | None = None) -> dict[str, Artifact]:
    """Compile every contract of contracts/src and return the artifacts by name (nothing is written)."""
    pins = pins or Pins.from_package_json()
    binary = resolve_solc(pins.solc)
    compiler_input = standard_input()
    try:
        output = solcx.compile_standard(
            compiler_input, solc_binary=binary, base_path=PROJECT_ROOT, allow_paths=[PROJECT_ROOT]
        )
    except SolcError as exc:
        # py-solc-x's message carries the whole compiler output; the errors themselves are enough.
        errors = [e["formattedMessage"].strip() for e in exc.error_dict or [] if e["severity"] == "error"]
        raise CompilationFailed("\n\n".join(errors) or str(exc)) from None
    for problem in output.get("errors", []):
        log.warning("solc: %s", problem["formattedMessage"].strip())
    long_version = solcx.wrapper.get_version_str_from_solc_binary(binary)
    digest = source_hash(pins, compiler_input)
    artifacts = {}
    for source in compiler_input["sources"]:
        for name, compiled in output["contracts"][source].items():
            artifacts[name] = Artifact(
                contract_name=name,
                abi=compiled["abi"],
                bytecode="0x" + compiled["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + compiled["evm"]["deployedBytecode"]["object"],
                compiler=long_version,
                source_hash=digest,
                userdoc=compiled["userdoc"],
                devdoc=compiled["devdoc"],
            )
    return artifacts


def write_artifacts(artifacts: dict[str, Artifact], build_dir: Path = BUILD_DIR) -> None:
    build_dir.mkdir(parents=True, exist_ok=True)
    for artifact in artifacts.values():
        path = build_dir / f"{artifact.contract_name}.json"
        path.write_text(json.dumps(artifact.to_json(), indent=1, sort_keys=True) + "\n")
        log.info("wrote %s", path.relative_to(PROJECT_ROOT))
