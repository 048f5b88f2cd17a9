"""`gtc`: the project's developer commands."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gtc", description="Green Travel Credits developer commands")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the parts do")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole flow on the real trip sample, on an in-process chain")
    demo.add_argument("--work-dir", type=Path, default=Path("var/demo"), help="where the demo writes its files")
    demo.add_argument("--sample-dir", type=Path, default=None, help="trip logs (default: data/real-trips)")
    commands.add_parser("compile", help="compile contracts/src with py-solc-x and write contracts/build")
    devnet_command = commands.add_parser("devnet", help="a local chain with the contracts deployed, over JSON-RPC")
    devnet_command.add_argument("--host", default="127.0.0.1")
    devnet_command.add_argument("--port", type=int, default=8545)
    devnet_command.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/devnet"),
        help="where the chain is saved and deployment.json and accounts.json go (default var/devnet)",
    )
    devnet_command.add_argument(
        "--fresh", action="store_true", help="discard the chain saved in the state folder and deploy anew"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )

    if args.command == "compile":
        from contracts import docs as contract_docs
        from contracts.compiler import CompilationFailed, compile_all, write_artifacts

        try:
            artifacts = compile_all()
        except CompilationFailed as exc:
            print(f"gtc: the contracts do not compile:\n{exc}", file=sys.stderr)
            return 1
        write_artifacts(artifacts)
        contract_docs.write()
        print(f"wrote contracts/build/ and {contract_docs.DOCS_PATH.relative_to(Path.cwd())}")
        for artifact in artifacts.values():
            size = len(artifact.deployed_bytecode) // 2 - 1
            print(f"{artifact.contract_name:<15} {size:>6} bytes  solc {artifact.compiler}")
        return 0
    if args.command == "devnet":
        from scripts.devnet import serve, start

        devnet = start(args.state_dir, fresh=args.fresh)
        head = devnet.w3.eth.block_number
        origin = f"restored from {args.state_dir} at block {head}" if devnet.restored else "new, contracts deployed"
        print(f"devnet: chain {devnet.deployment.chain_id} at http://{args.host}:{args.port} ({origin})")
        for name in ("registry", "token", "market"):
            print(f"  {name:<9} {getattr(devnet.deployment, name)}")
        print(f"  deployment and development keys in {args.state_dir}/ (public keys: never use them on a real chain)")
        for role, account in devnet.accounts.items():
            print(f"  {role:<9} {account.address}  0x{bytes(account.key).hex()}")
        print(
            f"  the chain is saved in {args.state_dir} as it grows: restarting resumes it (--fresh starts anew)",
            flush=True,
        )
        serve(devnet, args.host, args.port)
        return 0
    if args.command == "demo":
        from pydantic import ValidationError

        from backend.settings import BackendSettings
        from oracle.settings import OracleSettings
        from scripts.demo import run_demo
        from scripts.trips import SAMPLE_DIR

        try:
            oracle_settings, backend_settings = OracleSettings(), BackendSettings()
        except ValidationError as exc:
            prefix = {"OracleSettings": "ORACLE_", "BackendSettings": "BACKEND_"}[exc.title]
            for error in exc.errors():
                name = prefix + "_".join(map(str, error["loc"])).upper()
                print(f"gtc: {name}={error.get('input')!r}: {error['msg']}", file=sys.stderr)
            return 2
        run_demo(
            args.work_dir,
            args.sample_dir or SAMPLE_DIR,
            oracle_settings=oracle_settings,
            backend_settings=backend_settings,
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
