"""`python -m benchmarks`: run every benchmark, print its tables and write BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import gas

OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main() -> int:
    started = datetime.now(UTC)
    sections = []
    print("gas ...", flush=True)
    result = gas.run(echo=lambda line: print(line, flush=True))
    for table in result.tables:
        print("\n" + table.text())
    for note in result.notes:
        print("\n" + note)
    sections.append(("Gas", result.tables, result.notes))
    body = [
        "# Benchmarks",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, by `make bench` (`python -m benchmarks`).",
        "Each figure is compared with a baseline measured in the same run.",
    ]
    for title, tables, notes in sections:
        body += ["", f"## {title}", ""]
        for table in tables:
            body += [table.markdown(), ""]
        body += [note + "\n" for note in notes]
    OUTPUT.write_text("\n".join(body).rstrip() + "\n")
    print(f"\nwrote {OUTPUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
