#!/usr/bin/env python3
"""Run the npm compiler (solcjs) with the command line of the native `solc`, for py-solc-x.

py-solc-x calls `solc --version` and `solc --standard-json [--base-path P] [--allow-paths P]`. solcjs
differs in three ways: it rejects `--allow-paths`, resolves no import without `--base-path`, and may
print lines starting with `>>>` (SMT checker notices) before the JSON on stdout. And node cuts piped
output short when solcjs exits (writes to a pipe are asynchronous), so its stdout goes to a file here.
Only the standard library is used, so any `python3` can run this file.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOLCJS = Path(os.environ.get("GTC_SOLCJS", PROJECT_ROOT / "node_modules" / "solc" / "solc.js"))


def translate(args: list[str]) -> list[str]:
    """Drop `--allow-paths` and its value; give standard-JSON runs a base path."""
    translated: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg == "--allow-paths":
            skip_value = True
        else:
            translated.append(arg)
    if "--standard-json" in translated and "--base-path" not in translated:
        translated += ["--base-path", str(PROJECT_ROOT)]
    return translated


def main() -> int:
    node = shutil.which("node")
    if node is None or not SOLCJS.is_file():
        sys.stderr.write(f"solcjs wrapper: needs `node` on PATH and {SOLCJS} (run `npm ci`)\n")
        return 127
    stdin = None if sys.stdin.isatty() else sys.stdin.read()
    with tempfile.TemporaryFile("w+") as stdout:
        done = subprocess.run(
            [node, str(SOLCJS), *translate(sys.argv[1:])], input=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        stdout.seek(0)
        sys.stdout.writelines(line for line in stdout if not line.startswith(">>>"))
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
