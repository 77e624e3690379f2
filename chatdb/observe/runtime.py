"""What the instrumented queriers call: ``Instruments.call(query_name)`` around each query.

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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

__all__ = ["DEFAULT_BUCKETS", "Instruments"]

logger = logging.getLogger("chatdb.slow_query")

DEFAULT_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class _Call:
    """One measured query (a context manager, reused by nothing: one per call)."""

    __slots__ = ("_name", "_obs", "_span", "_start")

    def __init__(self, obs: Instruments, name: str) -> None:
        self._obs = obs
        self._name = name

    def __enter__(self) -> None:
        obs = self._obs
        self._span = obs._start_span(self._name) if obs._tracer is not None else None
        self._start = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        obs = self._obs
        name = self._name
        if obs._durations is not None:
            obs._duration(name).observe(elapsed)
            if exc_type is not None:
                obs._errors.labels(name, exc_type.__name__).inc()
        span = self._span
        if span is not None:
            if exc_type is not None:
                span.set_attribute("error.type", exc_type.__name__)
                span.set_status(obs._error_status(exc_type.__name__))
            span.end()
        if obs.slow_query_seconds is not None and elapsed >= obs.slow_query_seconds:
            logger.warning(
                "slow query %s: %.1f ms%s",
                name,
                elapsed * 1000,
                "" if exc_type is None else f" (failed: {exc_type.__name__})",
            )


class Instruments:
    """The instruments a querier reports to. Each is off unless asked for.

    ``metrics=True`` registers the histogram and counter in ``registry`` (default: the
    prometheus-client default registry); ``tracing=True`` takes a tracer from
    ``tracer_provider`` (default: the global one); ``query_text=True`` adds each query's SQL
    text to its span; ``slow_query_seconds`` turns on the slow-query log.
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
        self._durations: Any = None
        self._errors: Any = None
        self._children: dict[str, Any] = {}
        self._tracer: Any = None
        if metrics:
            self._init_metrics(registry, namespace, buckets)
        if tracing:
            self._init_tracing(tracer_provider)

    @property
    def enabled(self) -> bool:
        """Whether anything is measured at all."""
        return (
            self._durations is not None
            or self._tracer is not None
            or self.slow_query_seconds is not None
        )

    def _init_metrics(self, registry: Any, namespace: str, buckets: tuple[float, ...]) -> None:
        try:
            from prometheus_client import REGISTRY, Counter, Histogram
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("metrics need prometheus-client: install chatdb[metrics]") from exc
        target = REGISTRY if registry is None else registry
        self._durations = Histogram(
            "query_duration_seconds",
            "Time a query took, by query name.",
            ["query"],
            namespace=namespace,
            buckets=buckets,
            registry=target,
        )
        self._errors = Counter(
            "query_errors",
            "Queries that raised, by query name and error type.",
            ["query", "error_type"],
            namespace=namespace,
            registry=target,
        )

    def _init_tracing(self, tracer_provider: Any) -> None:
        try:
            from opentelemetry import trace
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("tracing needs opentelemetry-api: install chatdb[otel]") from exc
        self._tracer = trace.get_tracer("chatdb", tracer_provider=tracer_provider)
        self._client_kind = trace.SpanKind.CLIENT
        self._status_error = trace.StatusCode.ERROR
        self._status_cls = trace.Status

    def _duration(self, name: str) -> Any:
        child = self._children.get(name)
        if child is None:
            child = self._children[name] = self._durations.labels(name)
        return child

    def _start_span(self, name: str) -> Any:
        attributes = {"db.system.name": "postgresql", "db.operation.name": name}
        if self.query_text and name in self._texts:
            attributes["db.query.text"] = self._texts[name]
        return self._tracer.start_span(name, kind=self._client_kind, attributes=attributes)

    def _error_status(self, description: str) -> Any:
        return self._status_cls(self._status_error, description)

    def call(self, name: str) -> _Call:
        """Measure the query ``name`` for the duration of a ``with`` block."""
        return _Call(self, name)
