"""Pool gauges for Prometheus from psycopg-pool's ``get_stats()``.

Registered as a custom collector: the stats are read when Prometheus scrapes, so the pool
pays nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["PoolCollector", "register_pool"]

# stat key -> (metric suffix, help, is a counter)
_STATS = {
    "pool_size": ("pool_size", "Connections currently managed by the pool.", False),
    "pool_available": ("pool_available", "Idle connections in the pool.", False),
    "pool_min": ("pool_min_size", "The pool's min_size.", False),
    "pool_max": ("pool_max_size", "The pool's max_size.", False),
    "requests_waiting": ("pool_requests_waiting", "Clients waiting for a connection.", False),
    "requests_num": ("pool_requests", "Connection requests served.", True),
    "requests_errors": ("pool_request_errors", "Connection requests that failed.", True),
    "connections_num": ("pool_connections_opened", "Connections opened.", True),
    "connections_errors": ("pool_connection_errors", "Failed connection attempts.", True),
    "connections_lost": ("pool_connections_lost", "Connections found broken.", True),
    "returns_bad": ("pool_returns_bad", "Connections returned in a bad state.", True),
}


class PoolCollector:
    """Exposes a psycopg pool's statistics (``chatdb_pool_*{pool}``)."""

    def __init__(self, pool: Any, *, namespace: str = "chatdb") -> None:
        self.pool = pool
        self.namespace = namespace

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self.pool.get_stats()
        name = str(self.pool.name)
        for key, (suffix, help_text, counter) in _STATS.items():
            family: Any = CounterMetricFamily if counter else GaugeMetricFamily
            metric = family(f"{self.namespace}_{suffix}", help_text, labels=["pool"])
            metric.add_metric([name], float(stats.get(key, 0)))
            yield metric


def register_pool(pool: Any, registry: Any = None, *, namespace: str = "chatdb") -> PoolCollector:
    """Register gauges for ``pool`` (a Store's ``.pool``) in ``registry`` (default: global)."""
    from prometheus_client import REGISTRY

    collector = PoolCollector(pool, namespace=namespace)
    (REGISTRY if registry is None else registry).register(collector)
    return collector
