"""`python -m benchmarks`: run benchmarks, print their tables and write their sections of BENCHMARKS.md.

python -m benchmarks                 all of them (minutes: the oracle's day signs a million reports once,
                                     the fleet's day registers its devices once; both kept in var/bench)
python -m benchmarks gas verification
                                     some of them: gas, verification, day (the oracle's simulated day),
                                     fleet (N drivers through the whole system), api (the balance read
                                     under load; needs the fleet's index)
python -m benchmarks fleet --drivers 100000
                                     a larger fleet (printed; BENCHMARKS.md keeps the default sizes)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import api_load, fleet_day, gas, simulated_day, verification
from benchmarks.report import Table
from oracle.tuning import tune_garbage_collector

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "BENCHMARKS.md"
WORK_DIR = ROOT / "var" / "bench"
DAY_REPORTS = 1_000_000
NAMES = ["gas", "verification", "day", "fleet", "api"]
SECTION_ORDER = [
    "Gas",
    "Report verification",
    "A simulated day of the oracle",
    "A day of drivers through the whole system",
    "The API under load",
]


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
    parser.add_argument("names", nargs="*", metavar="name", help=f"some of {', '.join(NAMES)} (default: all)")
    parser.add_argument("--day-reports", type=int, default=DAY_REPORTS, help="reports in the oracle's simulated day")
    parser.add_argument("--drivers", type=int, default=fleet_day.DEFAULT_DRIVERS, help="drivers in the fleet's day")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in NAMES]
    if unknown:
        parser.error(f"no benchmark {unknown[0]!r}: choose among {', '.join(NAMES)}")
    names = args.names or NAMES
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
    if "fleet" in names:
        print("fleet ...", flush=True)
        fleet = fleet_day.run(WORK_DIR, args.drivers, echo=echo)
        sections.append(("A day of drivers through the whole system", fleet.tables, fleet.notes))
    if "api" in names:
        print("api ...", flush=True)
        index = WORK_DIR / "fleet-backend.db"
        manifest = WORK_DIR / f"fleet-chain-{args.drivers}.json"
        if not index.exists() or not manifest.exists():
            parser.error("the api benchmark reads the fleet's index: run `python -m benchmarks fleet` first")
        loaded = api_load.run(index, manifest, echo=echo)
        sections.append(("The API under load", loaded.tables, loaded.notes))
    for _, tables, notes in sections:
        for table in tables:
            print("\n" + table.text())
        for note in notes:
            print("\n" + note)
    if args.day_reports != DAY_REPORTS or args.drivers != fleet_day.DEFAULT_DRIVERS:
        print("\n(not the benchmark's default sizes: BENCHMARKS.md left as it is)")
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
