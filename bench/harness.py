"""Side-by-side timing of a baseline and a candidate, and the table that reports it.

Both sides run on the same connection, alternately: a round is split into slices that swap
which side goes first, so drift of the machine or the server (caches, autovacuum, other
processes on a shared box) hits both sides within milliseconds of each other. Slices time many
operations with the garbage collector off (as ``timeit`` does); a round yields one
per-operation time per side, and the reported ratio is the median of the per-round ratios
candidate / baseline, with its quartiles, so a few noisy rounds cannot move it.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

Op = Callable[[], object]
AsyncOp = Callable[[], Awaitable[object]]

# psycopg prepares a statement on its 6th execution: warm-up must get past that.
MIN_WARMUP_OPS = 8


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure: ``rounds`` rounds of about ``round_seconds`` per side, each split
    into up to ``slices`` alternating slices; slow operations get fewer rounds so that one
    comparison stays within about ``max_seconds``."""

    rounds: int = 25
    round_seconds: float = 0.06
    slices: int = 6
    warmup_seconds: float = 0.1
    max_seconds: float = 15.0
    min_rounds: int = 7


FULL = Settings()
QUICK = Settings(rounds=3, round_seconds=0.005, slices=2, warmup_seconds=0.005, min_rounds=3)


@dataclass(frozen=True, slots=True)
class _Plan:
    rounds: int
    slices: int
    ops: int  # per slice and side


def _plan(estimates: Sequence[float], settings: Settings) -> _Plan:
    """Rounds, slices and operations per slice from the warm-up's per-operation estimates."""
    slowest_us = max(estimates)
    ops_per_round = max(1, round(settings.round_seconds * 1e6 / slowest_us))
    slices = max(1, min(settings.slices, ops_per_round))
    ops = max(1, ops_per_round // slices)
    round_us = 2 * slices * ops * slowest_us
    affordable = int(settings.max_seconds * 1e6 / round_us)
    rounds = max(settings.min_rounds, min(settings.rounds, affordable))
    return _Plan(rounds, slices, ops)


@dataclass(frozen=True, slots=True)
class Result:
    """One benchmark: median µs per operation of each side and the median paired ratio."""

    group: str
    name: str
    baseline: str
    candidate: str
    baseline_us: float
    candidate_us: float
    ratio: float
    ratio_q1: float
    ratio_q3: float
    rounds: int
    ops_per_round: int
    target: float | None = None
    note: str = ""
    # What one call sends, e.g. "7 / 7 (pipelined 8)": statements / round trips; only
    # benchmarks that count statements fill it in, and the table shows the column when one does.
    sent: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "ok" if self.ratio <= self.target else "OVER"


def _per_op_us(fn: Op, n: int, clock: Callable[[], int] = time.perf_counter_ns) -> float:
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in range(n):
            fn()
        return (clock() - start) / n / 1000.0
    finally:
        if enabled:
            gc.enable()


async def _per_op_us_async(fn: AsyncOp, n: int) -> float:
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(n):
            await fn()
        return (time.perf_counter_ns() - start) / n / 1000.0
    finally:
        if enabled:
            gc.enable()


def _warmup_estimate_us(timings: Sequence[float]) -> float:
    return min(timings) if timings else 1.0


def _result(
    group: str,
    name: str,
    labels: tuple[str, str],
    base: Sequence[float],
    cand: Sequence[float],
    plan: _Plan,
    target: float | None,
    note: str,
) -> Result:
    ratios = [c / b for b, c in zip(base, cand, strict=True)]
    if len(ratios) >= 2:
        q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    else:
        q1 = q3 = ratios[0]
    return Result(
        group=group,
        name=name,
        baseline=labels[0],
        candidate=labels[1],
        baseline_us=statistics.median(base),
        candidate_us=statistics.median(cand),
        ratio=statistics.median(ratios),
        ratio_q1=q1,
        ratio_q3=q3,
        rounds=len(ratios),
        ops_per_round=plan.ops * plan.slices,
        target=target,
        note=note,
    )


def compare(
    group: str,
    name: str,
    baseline: tuple[str, Op],
    candidate: tuple[str, Op],
    settings: Settings,
    *,
    target: float | None = None,
    note: str = "",
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Result:
    """Time two synchronous operations side by side (see the module docstring).

    ``clock`` (nanoseconds) is wall time by default; ``time.thread_time_ns`` measures the
    calling thread's CPU time instead, which leaves out the server's share and the time the
    thread waits for a core on a busy machine."""
    (base_label, base_fn), (cand_label, cand_fn) = baseline, candidate
    estimates = []
    for fn in (base_fn, cand_fn):
        timings: list[float] = []
        deadline = time.perf_counter() + settings.warmup_seconds
        while len(timings) < MIN_WARMUP_OPS or time.perf_counter() < deadline:
            timings.append(_per_op_us(fn, 1, clock))
        estimates.append(_warmup_estimate_us(timings))
    plan = _plan(estimates, settings)
    ops = plan.ops
    base: list[float] = []
    cand: list[float] = []
    for r in range(plan.rounds):
        gc.collect()
        b = c = 0.0
        for s in range(plan.slices):
            if (r + s) % 2 == 0:
                b += _per_op_us(base_fn, ops, clock)
                c += _per_op_us(cand_fn, ops, clock)
            else:
                c += _per_op_us(cand_fn, ops, clock)
                b += _per_op_us(base_fn, ops, clock)
        base.append(b / plan.slices)
        cand.append(c / plan.slices)
    return _result(group, name, (base_label, cand_label), base, cand, plan, target, note)


async def compare_async(
    group: str,
    name: str,
    baseline: tuple[str, AsyncOp],
    candidate: tuple[str, AsyncOp],
    settings: Settings,
    *,
    target: float | None = None,
    note: str = "",
) -> Result:
    """Time two coroutine functions side by side on the running event loop."""
    (base_label, base_fn), (cand_label, cand_fn) = baseline, candidate
    estimates = []
    for fn in (base_fn, cand_fn):
        timings: list[float] = []
        deadline = time.perf_counter() + settings.warmup_seconds
        while len(timings) < MIN_WARMUP_OPS or time.perf_counter() < deadline:
            timings.append(await _per_op_us_async(fn, 1))
        estimates.append(_warmup_estimate_us(timings))
    plan = _plan(estimates, settings)
    ops = plan.ops
    base: list[float] = []
    cand: list[float] = []
    for r in range(plan.rounds):
        gc.collect()
        b = c = 0.0
        for s in range(plan.slices):
            if (r + s) % 2 == 0:
                b += await _per_op_us_async(base_fn, ops)
                c += await _per_op_us_async(cand_fn, ops)
            else:
                c += await _per_op_us_async(cand_fn, ops)
                b += await _per_op_us_async(base_fn, ops)
        base.append(b / plan.slices)
        cand.append(c / plan.slices)
    return _result(group, name, (base_label, cand_label), base, cand, plan, target, note)


# -- reporting


def format_us(us: float) -> str:
    """A duration in the unit that keeps 3–4 significant digits."""
    if us >= 10_000:
        return f"{us / 1000:.1f} ms"
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.1f} µs"


def render_table(results: Sequence[Result]) -> str:
    """A plain-text table, one row per result, grouped as given."""
    header: tuple[str, ...] = (
        "benchmark",
        "baseline",
        "per op",
        "candidate",
        "per op",
        "ratio [q1–q3]",
        "target",
        "",
        "rounds×ops",
    )
    rows: list[tuple[str, ...]] = []
    for r in results:
        rows.append(
            (
                f"{r.group}: {r.name}",
                r.baseline,
                format_us(r.baseline_us),
                r.candidate,
                format_us(r.candidate_us),
                f"{r.ratio:.3f}× [{r.ratio_q1:.3f}–{r.ratio_q3:.3f}]",
                "" if r.target is None else f"≤ {r.target:.2f}×",
                r.verdict,
                f"{r.rounds}×{r.ops_per_round}",
            )
        )
    if any(r.sent for r in results):  # statements / round trips, after the ratio
        header = (*header[:6], "sent: statements / round trips", *header[6:])
        rows = [(*row[:6], r.sent, *row[6:]) for row, r in zip(rows, results, strict=True)]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    right = {2, 4, 5}

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    lines = [line(header), line(["-" * w for w in widths])]
    lines += [line(row) for row in rows]
    notes = [f"  {r.group}: {r.name}: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for text in f:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """What the numbers depend on: interpreter, driver, server, machine, connection."""
    server = conn.execute("SHOW server_version").fetchone()
    info = conn.info
    where = f"unix socket {info.host}" if info.host.startswith("/") else f"tcp {info.host}"
    return [
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        (
            "psycopg",
            f"{psycopg.__version__} ({psycopg.pq.__impl__} implementation, "
            f"libpq {psycopg.pq.version_pretty(psycopg.pq.version())})",
        ),
        ("postgresql", f"{server[0] if server else '?'} via {where}:{info.port}"),
        ("machine", f"{platform.platform()}, {os.cpu_count()} CPUs, {_cpu_model()}"),
    ]
