"""What per-query instrumentation costs: instrumented vs plain querier on one connection.

Targets: metrics (prometheus-client histogram + error counter) ≤ 1.05×; nothing enabled ≈
1.00× (the factory then returns the plain class). Tracing is measured with the OpenTelemetry
SDK recording every span (a processor that drops them), i.e. sampling everything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider
from prometheus_client import CollectorRegistry

from bench.harness import FULL, Result, Settings, compare, compare_async
from chatdb.db import AsyncQuerier, Querier
from chatdb.observe import (
    AsyncInstrumentedQuerier,
    InstrumentedQuerier,
    Instruments,
    instrumented_querier,
)
from chatdb.observe.runtime import Probe
from chatdb.testing.factories import Factories

GROUP = "observe"
TARGET = 1.05


class _Drop(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    return provider


def _reader(q: Querier, chat_id: UUID) -> Callable[[], object]:
    return lambda: q.get_chat_by_id(id=chat_id)


def run(dsn: str, settings: Settings = FULL) -> list[Result]:
    results = []
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=1) as conn:
        chat_id = Factories(conn).chat().id
        plain = Querier(conn)
        disabled = instrumented_querier(Instruments())(conn)
        metrics = InstrumentedQuerier(conn, Instruments(metrics=True, registry=CollectorRegistry()))
        traced = InstrumentedQuerier(conn, Instruments(tracing=True, tracer_provider=_provider()))
        api_only = InstrumentedQuerier(
            conn, Instruments(tracing=True, tracer_provider=NoOpTracerProvider())
        )
        both = InstrumentedQuerier(
            conn,
            Instruments(
                metrics=True,
                tracing=True,
                slow_query_seconds=1.0,
                registry=CollectorRegistry(),
                tracer_provider=_provider(),
            ),
        )
        cases = [
            ("nothing enabled (factory)", disabled, TARGET, "the factory returns the plain class"),
            ("metrics", metrics, TARGET, "histogram + error counter per query"),
            ("tracing, no SDK installed", api_only, TARGET, "opentelemetry-api's no-op tracer"),
            ("tracing (SDK, every span)", traced, None, "a span per query, sampled and ended"),
            ("metrics + tracing + slow log", both, None, ""),
        ]
        for label, q, target, note in cases:
            results.append(
                compare(
                    GROUP,
                    f"get_chat_by_id, {label}",
                    ("Querier", lambda: plain.get_chat_by_id(id=chat_id)),
                    (type(q).__name__, _reader(q, chat_id)),
                    settings,
                    target=target,
                    note=note,
                )
            )
        # The same comparison in the calling thread's CPU time: what the wrapper costs the
        # application, without the server's share or the waits for a core that make the wall
        # time ratios above noisy on a loaded machine (a stricter ratio: a smaller baseline).
        results.append(
            compare(
                GROUP,
                "get_chat_by_id, metrics, client CPU time",
                ("Querier", lambda: plain.get_chat_by_id(id=chat_id)),
                ("InstrumentedQuerier", _reader(metrics, chat_id)),
                settings,
                note="time.thread_time_ns: candidate − baseline per op = the wrapper's CPU cost",
                clock=time.thread_time_ns,
            )
        )
    results.append(asyncio.run(_run_async(dsn, chat_id, settings)))
    probe = Instruments(metrics=True, registry=CollectorRegistry()).probe("GetChatByID")
    results.append(
        compare(
            GROUP,
            "per call, metrics (no query)",
            ("empty call", _empty),
            ("probe start + done", lambda: _measured(probe)),
            settings,
            note="candidate per op = what the metrics add to each query, in absolute terms",
        )
    )
    return results


def _empty() -> None:
    """The floor: a call that measures nothing."""


def _measured(probe: Probe) -> None:
    """What a generated method adds around the plain querier's call."""
    token = probe.start()
    try:
        _empty()
    except BaseException as exc:
        probe.fail(token, exc)
        raise
    probe.done(token)


async def _run_async(dsn: str, chat_id: UUID, settings: Settings) -> Result:
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, prepare_threshold=1
    ) as aconn:
        plain = AsyncQuerier(aconn)
        metrics = AsyncInstrumentedQuerier(
            aconn, Instruments(metrics=True, registry=CollectorRegistry())
        )
        return await compare_async(
            GROUP,
            "async get_chat_by_id, metrics",
            ("AsyncQuerier", lambda: plain.get_chat_by_id(id=chat_id)),
            ("AsyncInstrumentedQuerier", lambda: metrics.get_chat_by_id(id=chat_id)),
            settings,
            target=TARGET,
        )
