"""What the instrumented queriers call: one :class:`Probe` per query, bound once.

Three independent instruments, each optional:

* **metrics** (``prometheus-client``, extra ``chatdb[metrics]``): a histogram
  ``chatdb_query_duration_seconds{query}`` and a counter
  ``chatdb_query_errors_total{query,error_type}``;
* **traces** (``opentelemetry-api``, extra ``chatdb[otel]``): one CLIENT span per query, named
  after it, with the database semantic conventions: ``db.system.name`` = ``postgresql``,
  ``db.operation.name`` = the query name, ``db.query.text`` only with ``query_text=True``
  (the SQL with placeholders, never parameter values), ``error.type`` on failure;
* **slow-query log**: a warning naming the query and its duration when it takes at least
  ``slow_query_seconds`` (never parameter values).

With none enabled, :func:`chatdb.observe.instrumented_querier` returns the plain querier class
itself, so the cost is nil; the libraries are imported only when their instrument is enabled.

The per-call path is what a query pays, so everything that does not change between calls is
decided when a query's probe is built (once per query name and ``Instruments``): its histogram
row, its span attributes, whether it traces at all. A call then costs two
``perf_counter_ns()`` reads, a bucket search and one uncontended lock; the generated methods
call the probe inline, without a context manager. The histogram is kept in plain integers
under a lock per query and handed to Prometheus when it scrapes (:class:`QueryMetrics`, a
collector), which is about half what ``prometheus_client.Histogram.observe`` costs per call.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_BUCKETS", "Instruments", "Probe", "QueryMetrics"]

logger = logging.getLogger("chatdb.slow_query")

DEFAULT_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

_now = time.perf_counter_ns
_NEVER = sys.maxsize  # the slow-query threshold (ns) when the slow log is off


class _Latency:
    """One query's histogram: a count per bucket (the last one is +Inf) and the total.

    Updated under its own lock so that an update is whole in any Python build; CPython with
    a GIL happens not to switch threads inside these few bytecodes, so the lock costs an
    uncontended acquire there (no test can show it missing on such a build)."""

    __slots__ = ("counts", "lock", "total_ns")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total_ns = 0
        self.lock = threading.Lock()


class QueryMetrics:
    """The latency histogram and error counter of every query, as a Prometheus collector.

    Probes write plain integers; :meth:`collect` turns them into the metric families when the
    registry is scraped. Counts live in this process (as ``prometheus_client``'s own metrics do
    outside its multiprocess mode, which this collector does not take part in).
    """

    def __init__(self, namespace: str, buckets: Sequence[float]) -> None:
        from prometheus_client.utils import floatToGoString

        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("buckets must be increasing and not empty")
        self.bounds_ns = [round(b * 1e9) for b in buckets]
        # How prometheus-client writes a bucket bound, so `le` labels match its own histograms.
        self._le = [floatToGoString(b) for b in buckets] + ["+Inf"]  # type: ignore[no-untyped-call]
        self._duration_name = f"{namespace}_query_duration_seconds"
        self._errors_name = f"{namespace}_query_errors"
        self._latency: dict[str, _Latency] = {}
        self._errors: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def latency(self, query: str) -> _Latency:
        """The histogram row of ``query`` (created on first use, shared by its probes)."""
        with self._lock:
            row = self._latency.get(query)
            if row is None:
                row = self._latency[query] = _Latency(len(self.bounds_ns))
            return row

    def error(self, query: str, error_type: str) -> None:
        key = (query, error_type)
        with self._lock:
            self._errors[key] = self._errors.get(key, 0) + 1

    def describe(self) -> Iterator[Any]:
        """The metric names, so that registering a clashing collector fails up front."""
        return self._families({}, {})

    def collect(self) -> Iterator[Any]:
        with self._lock:
            rows = dict(self._latency)
            errors = dict(self._errors)
        snapshot = {}
        for query, row in rows.items():
            with row.lock:
                snapshot[query] = (list(row.counts), row.total_ns)
        return self._families(snapshot, errors)

    def _families(
        self, latency: Mapping[str, tuple[list[int], int]], errors: Mapping[tuple[str, str], int]
    ) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        durations = HistogramMetricFamily(
            self._duration_name, "Time a query took, by query name.", labels=["query"]
        )
        for query, (counts, total_ns) in sorted(latency.items()):
            cumulative, buckets = 0, []
            for le, n in zip(self._le, counts, strict=True):
                cumulative += n
                buckets.append((le, float(cumulative)))
            durations.add_metric([query], buckets, total_ns / 1e9)
        failures = CounterMetricFamily(
            self._errors_name,
            "Queries that raised, by query name and error type.",
            labels=["query", "error_type"],
        )
        for (query, error_type), n in sorted(errors.items()):
            failures.add_metric([query, error_type], float(n))
        yield durations
        yield failures


class Probe:
    """One query's instruments: ``token = probe.start()`` before the query, then
    ``probe.done(token)`` or ``probe.fail(token, exc)``.

    ``start``/``done``/``fail`` are picked when the probe is built: without tracing, ``start``
    is ``time.perf_counter_ns`` itself and the token is the start time.
    """

    __slots__ = (
        "_attributes",
        "_bounds",
        "_latency",
        "_metrics",
        "_name",
        "_slow_ns",
        "_trace",
        "done",
        "fail",
        "start",
    )

    def __init__(self, obs: Instruments, name: str, text: str | None) -> None:
        self._name = name
        self._metrics = obs._metrics
        self._latency = None if self._metrics is None else self._metrics.latency(name)
        self._bounds = [] if self._metrics is None else self._metrics.bounds_ns
        slow = obs.slow_query_seconds
        self._slow_ns = _NEVER if slow is None else round(slow * 1e9)
        self._trace: Any = obs._trace
        self._attributes: dict[str, str] = {
            "db.system.name": "postgresql",
            "db.operation.name": name,
        }
        if obs.query_text and text is not None:
            self._attributes["db.query.text"] = text
        self.start: Any
        self.done: Any
        self.fail: Any
        if self._trace is None:
            self.start, self.done, self.fail = _now, self._done, self._fail
        else:
            self.start, self.done, self.fail = (
                self._start_traced,
                self._done_traced,
                self._fail_traced,
            )

    def _done(self, start: int) -> None:
        elapsed = _now() - start
        row = self._latency
        if row is not None:  # _record, inlined: this is every successful call's path
            i = bisect_left(self._bounds, elapsed)
            with row.lock:
                row.counts[i] += 1
                row.total_ns += elapsed
        if elapsed >= self._slow_ns:
            self._log_slow(elapsed, None)

    def _fail(self, start: int, exc: BaseException) -> None:
        elapsed = _now() - start
        error_type = type(exc).__name__
        if self._metrics is not None:
            self._record(elapsed)
            self._metrics.error(self._name, error_type)
        if elapsed >= self._slow_ns:
            self._log_slow(elapsed, error_type)

    def _record(self, elapsed: int) -> None:
        row = self._latency
        assert row is not None
        i = bisect_left(self._bounds, elapsed)
        with row.lock:
            row.counts[i] += 1
            row.total_ns += elapsed

    def _start_traced(self) -> tuple[Any, int]:
        span = self._trace.tracer.start_span(
            self._name, kind=self._trace.kind, attributes=self._attributes
        )
        return span, _now()

    def _done_traced(self, token: tuple[Any, int]) -> None:
        span, start = token
        self._done(start)
        span.end()

    def _fail_traced(self, token: tuple[Any, int], exc: BaseException) -> None:
        span, start = token
        self._fail(start, exc)
        error_type = type(exc).__name__
        span.set_attribute("error.type", error_type)
        span.set_status(self._trace.status(self._trace.error, error_type))
        span.end()

    def _log_slow(self, elapsed_ns: int, error_type: str | None) -> None:
        logger.warning(
            "slow query %s: %.1f ms%s",
            self._name,
            elapsed_ns / 1e6,
            "" if error_type is None else f" (failed: {error_type})",
        )


class _Tracing:
    """The tracer and the OpenTelemetry constants a traced probe needs."""

    __slots__ = ("error", "kind", "status", "tracer")

    def __init__(self, tracer_provider: Any) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("tracing needs opentelemetry-api: install chatdb[otel]") from exc
        self.tracer = trace.get_tracer("chatdb", tracer_provider=tracer_provider)
        self.kind = trace.SpanKind.CLIENT
        self.status = trace.Status
        self.error = trace.StatusCode.ERROR


class Instruments:
    """The instruments a querier reports to. Each is off unless asked for.

    ``metrics=True`` registers the histogram and counter (:class:`QueryMetrics`) in
    ``registry`` (default: the prometheus-client default registry); ``tracing=True`` takes a
    tracer from ``tracer_provider`` (default: the global one); ``query_text=True`` adds each
    query's SQL text to its span (from the generated module, or ``query_texts``);
    ``slow_query_seconds`` turns on the slow-query log.
    """

    def __init__(
        self,
        *,
        metrics: bool = False,
        tracing: bool = False,
        query_text: bool = False,
        slow_query_seconds: float | None = None,
        registry: Any = None,
        tracer_provider: Any = None,
        namespace: str = "chatdb",
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
        query_texts: Mapping[str, str] | None = None,
    ) -> None:
        if slow_query_seconds is not None and slow_query_seconds < 0:
            raise ValueError("slow_query_seconds must be >= 0")
        self.slow_query_seconds = slow_query_seconds
        self.query_text = query_text
        self._texts: Mapping[str, str] = query_texts or {}
        self._metrics: QueryMetrics | None = None
        self._trace: _Tracing | None = None
        self._probes: dict[str, Probe] = {}
        self._probe_sets: dict[int, tuple[Sequence[str], tuple[Probe, ...]]] = {}
        self._lock = threading.Lock()
        if metrics:
            self._metrics = _register_metrics(registry, namespace, buckets)
        if tracing:
            self._trace = _Tracing(tracer_provider)

    @property
    def enabled(self) -> bool:
        """Whether anything is measured at all."""
        return (
            self._metrics is not None
            or self._trace is not None
            or self.slow_query_seconds is not None
        )

    def probe(self, name: str, text: str | None = None) -> Probe:
        """The probe of the query ``name`` (built once; ``text`` is its SQL for spans)."""
        with self._lock:
            return self._probe(name, text)

    def probes(self, names: Sequence[str], texts: Mapping[str, str]) -> tuple[Probe, ...]:
        """The probes of ``names``, in order: what a generated querier indexes per method.

        Built on the first call for that (module-level) sequence, then looked up by identity,
        so constructing a querier per connection checkout costs one dict lookup.
        """
        cached = self._probe_sets.get(id(names))
        if cached is not None and cached[0] is names:
            return cached[1]
        with self._lock:
            built = tuple(self._probe(n, texts.get(n)) for n in names)
            self._probe_sets[id(names)] = (names, built)
        return built

    def _probe(self, name: str, text: str | None) -> Probe:
        probe = self._probes.get(name)
        if probe is None:
            probe = self._probes[name] = Probe(self, name, self._texts.get(name, text))
        return probe


def _register_metrics(registry: Any, namespace: str, buckets: Sequence[float]) -> QueryMetrics:
    try:
        from prometheus_client import REGISTRY
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("metrics need prometheus-client: install chatdb[metrics]") from exc
    metrics = QueryMetrics(namespace, buckets)
    (REGISTRY if registry is None else registry).register(metrics)
    return metrics
