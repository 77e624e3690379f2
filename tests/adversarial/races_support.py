"""Shared by the race tests: a barrier start for real threads and per-thread outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

START_TIMEOUT = 10.0
JOIN_TIMEOUT = 30.0


def race(calls: Sequence[Callable[[], object]]) -> list[object]:
    """Run every call on its own thread, released together; each one's result or exception.

    A barrier makes the threads start their call at the same moment, so the transactions
    overlap instead of running one after another as the threads happen to be scheduled.
    """
    barrier = threading.Barrier(len(calls), timeout=START_TIMEOUT)
    out: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            out[i] = call()
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        if t.is_alive():
            raise AssertionError(f"a racing call did not finish within {JOIN_TIMEOUT} s")
    return out
