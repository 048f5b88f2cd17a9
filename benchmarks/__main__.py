"""`python -m benchmarks`: run every benchmark, print its tables and write BENCHMARKS.md.

python -m benchmarks                 all of them (minutes: the simulated day signs a million reports
                                     once, and keeps them in var/bench for the next run)
python -m benchmarks gas verification day --day-reports 100000
                                     some of them; BENCHMARKS.md is written only by a full run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import gas, simulated_day, verification
from benchmarks.report import Table
from oracle.tuning import tune_garbage_collector

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "BENCHMARKS.md"
WORK_DIR = ROOT / "var" / "bench"
DAY_REPORTS = 1_000_000
SECTION_ORDER = ["Gas", "Report verification", "A simulated day of the oracle"]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=["gas", "verification", "day", []], help="default: all")
    parser.add_argument("--day-reports", type=int, default=DAY_REPORTS, help="reports in the simulated day")
    args = parser.parse_args(argv)
    names = args.names or ["gas", "verification", "day"]
    tune_garbage_collector()  # as the oracle's own processes do
    echo: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    started = datetime.now(UTC)
    sections: list[tuple[str, list[Table], list[str]]] = []
    if "gas" in names:
        print("gas ...", flush=True)
        result = gas.run(echo=echo)
        sections.append(("Gas", result.tables, result.notes))
    if "verification" in names:
        print("verification ...", flush=True)
        checked = verification.run(WORK_DIR, echo=echo)
        sections.append(("Report verification", checked.tables, checked.notes))
    if "day" in names:
        print("simulated day ...", flush=True)
        day = simulated_day.run(WORK_DIR, args.day_reports, echo=echo)
        sections.append(("A simulated day of the oracle", day.tables, day.notes))
    for _, tables, notes in sections:
        for table in tables:
            print("\n" + table.text())
        for note in notes:
            print("\n" + note)
    if args.day_reports != DAY_REPORTS:
        print("\n(a smaller day than the benchmark's: BENCHMARKS.md left as it is)")
        return 0
    write_sections(sections, started)
    print(f"\nwrote {OUTPUT.name}")
    return 0


def write_sections(sections: list[tuple[str, list[Table], list[str]]], started: datetime) -> None:
    """Replace the measured sections of BENCHMARKS.md (each says when it was measured), keep the others."""
    kept: dict[str, str] = {}
    if OUTPUT.exists():
        for chunk in OUTPUT.read_text().split("\n## ")[1:]:
            title, _, text = chunk.partition("\n")
            kept[title.strip()] = text.strip()
    for title, tables, notes in sections:
        lines = [f"Measured {started:%Y-%m-%d %H:%M} UTC by `python -m benchmarks`.", ""]
        for table in tables:
            lines += [table.markdown(), ""]
        lines += [note + "\n" for note in notes]
        kept[title] = "\n".join(lines).strip()
    order = [title for title in SECTION_ORDER if title in kept] + [t for t in kept if t not in SECTION_ORDER]
    page = [
        "# Benchmarks",
        "",
        f"On {machine()}, by `make bench`. Each figure is compared with a baseline measured in the same run.",
    ]
    for title in order:
        page += ["", f"## {title}", "", kept[title]]
    OUTPUT.write_text("\n".join(page).rstrip() + "\n")


if __name__ == "__main__":
    sys.exit(main())
