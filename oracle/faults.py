"""Fault injection for the crash tests.

`ORACLE_CRASH_AT=<point>` (or `<point>:<n>`) makes this process kill itself with SIGKILL the first (or
n-th) time it passes `<point>`: no cleanup, no flush, as a power cut would. The variable is set only by
the crash tests; unset, `crash_point` costs a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_passed: Counter[str] = Counter()


def crash_point(point: str) -> None:
    target = os.environ.get("ORACLE_CRASH_AT")
    if not target:
        return
    name, _, nth = target.partition(":")
    if name != point:
        return
    _passed[point] += 1
    if _passed[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
