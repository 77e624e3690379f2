"""The generated instrumented queriers: metrics, spans and slow-query logs per query."""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from chatdb.authz import Subject, as_actor
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import AsyncQuerier, Querier
from chatdb.db.chats import GET_CHAT_BY_ID
from chatdb.db.registry import QUERIES
from chatdb.errors import NotFound
from chatdb.observe import (
    AsyncInstrumentedQuerier,
    InstrumentedQuerier,
    Instruments,
    async_instrumented_querier,
    instrumented_querier,
    register_pool,
)
from chatdb.ops import Chats
from chatdb.store import AsyncStore, Store
from tests.ops import conftest as workflow_fixtures

pytestmark = pytest.mark.timeout(60)

f = workflow_fixtures.f
conn = workflow_fixtures.conn
org = workflow_fixtures.org
model = workflow_fixtures.model
alice = workflow_fixtures.alice


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def obs(registry: CollectorRegistry, spans: InMemorySpanExporter) -> Instruments:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return Instruments(
        metrics=True,
        tracing=True,
        query_text=True,
        registry=registry,
        tracer_provider=provider,
    )


@pytest.fixture
def store(chatdb_dsn: str, obs: Instruments) -> Iterator[Store[Querier]]:
    with Store(chatdb_dsn, querier_factory=instrumented_querier(obs), max_size=2) as s:
        yield s


def count(registry: CollectorRegistry, query: str) -> float:
    return registry.get_sample_value("chatdb_query_duration_seconds_count", {"query": query}) or 0


def errors(registry: CollectorRegistry, query: str, error_type: str) -> float:
    labels = {"query": query, "error_type": error_type}
    return registry.get_sample_value("chatdb_query_errors_total", labels) or 0


def test_every_query_method_is_instrumented_sync_and_async() -> None:
    """Checked against the registry of queries, not against the instrumented module."""
    for info in QUERIES.values():
        for cls, base in ((InstrumentedQuerier, Querier), (AsyncInstrumentedQuerier, AsyncQuerier)):
            method = cls.__dict__.get(info.method)
            assert method is not None, f"{cls.__name__} does not wrap {info.method}"
            assert inspect.signature(method) == inspect.signature(getattr(base, info.method))
            assert inspect.iscoroutinefunction(method) is (base is AsyncQuerier)
            if info.authz_filter:
                assert f"_{info.method}_filtered" in cls.__dict__


def test_calls_are_timed_counted_and_traced(
    store: Store[Querier], registry: CollectorRegistry, spans: InMemorySpanExporter, f: Any
) -> None:
    chat = f.chat()
    with store.querier() as q:
        assert isinstance(q, InstrumentedQuerier)
        for _ in range(3):
            assert q.get_chat_by_id(id=chat.id).id == chat.id
        with pytest.raises(NotFound):
            q.get_chat_by_id(id=uuid.uuid4())
    assert count(registry, "GetChatByID") == 4
    assert errors(registry, "GetChatByID", "NotFound") == 1
    assert (
        registry.get_sample_value(
            "chatdb_query_duration_seconds_bucket", {"query": "GetChatByID", "le": "+Inf"}
        )
        == 4
    )
    finished = [s for s in spans.get_finished_spans() if s.name == "GetChatByID"]
    assert len(finished) == 4
    ok, failed = finished[0], finished[3]
    assert ok.kind is SpanKind.CLIENT
    # db.query.text is the generated module's text of the query (nobody passed it in).
    assert dict(ok.attributes or {}) == {
        "db.system.name": "postgresql",
        "db.operation.name": "GetChatByID",
        "db.query.text": GET_CHAT_BY_ID,
    }
    assert failed.attributes is not None and failed.attributes["error.type"] == "NotFound"
    assert failed.status.status_code is StatusCode.ERROR
    # No span carries a parameter value.
    assert all(str(chat.id) not in str(dict(s.attributes or {})) for s in finished)


def test_the_query_text_is_only_on_spans_when_asked_for(f: Any, conn: Any) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    chat = f.chat()
    plain = Instruments(tracing=True, tracer_provider=provider)
    InstrumentedQuerier(conn, plain).get_chat_by_id(id=chat.id)
    given = Instruments(
        tracing=True, query_text=True, tracer_provider=provider, query_texts={"GetChatByID": "x"}
    )
    InstrumentedQuerier(conn, given).get_chat_by_id(id=chat.id)
    first, second = (dict(s.attributes or {}) for s in spans.get_finished_spans())
    assert first == {"db.system.name": "postgresql", "db.operation.name": "GetChatByID"}
    assert second["db.query.text"] == "x"  # query_texts overrides the generated text


def test_threads_meeting_a_query_at_once_share_its_histogram() -> None:
    """Threads that measure a query for the first time at the same moment get one probe and
    one histogram row (built under the Instruments' lock): no call of any of them is lost.
    Repeated: without the lock a few trials in a hundred lose a thread's counts."""
    threads, calls = 8, 50
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # a thread switch at nearly every chance
    try:
        for trial in range(200):
            registry = CollectorRegistry()
            obs = Instruments(metrics=True, registry=registry)
            start = threading.Barrier(threads)

            def hammer(obs: Instruments = obs, start: threading.Barrier = start) -> None:
                start.wait(10)
                probe = obs.probe("Q")
                for _ in range(calls):
                    probe.done(probe.start())

            workers = [threading.Thread(target=hammer) for _ in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(30)
            measured = count(registry, "Q")
            assert measured == threads * calls, f"trial {trial}: {measured}"
    finally:
        sys.setswitchinterval(interval)


def test_workflows_and_row_filtered_queries_go_through_the_instruments(
    store: Store[Querier], registry: CollectorRegistry, alice: Subject, org: Any, model: Any
) -> None:
    chats = Chats(store)
    with as_actor(alice):
        chats.create_chat(organization_id=org.id, content="hello")
        assert len(chats.list_chats()) == 1  # GetChats through the SQL-filter path
    assert count(registry, "InsertChat") == 1
    assert count(registry, "InsertChatMessages") == 1
    assert count(registry, "GetChats") == 1
    with store.querier() as q:
        AuthzQuerier(q, actor=alice).get_chats(
            owner_id=None, archived=None, label_filter=None, has_unread=None,
            title_query=None, after_id=None, offset=0, limit=5,
        )  # fmt: skip
    assert count(registry, "GetChats") == 2


def test_slow_queries_are_logged_without_parameter_values(
    chatdb_dsn: str, caplog: pytest.LogCaptureFixture, f: Any, alice: Subject
) -> None:
    obs = Instruments(slow_query_seconds=0.0)
    secret = "s3cret-search-term"
    with (
        Store(chatdb_dsn, querier_factory=instrumented_querier(obs)) as s,
        s.querier() as q,
        caplog.at_level(logging.WARNING, logger="chatdb.slow_query"),
    ):
        AuthzQuerier(q, actor=alice).get_chats(
                owner_id=alice.id, archived=None, label_filter={"k": secret}, has_unread=None,
                title_query=secret, after_id=None, offset=0, limit=5,
            )  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("slow query GetChats: ") for m in messages), messages
    assert not any(secret in m or str(alice.id) in m for m in messages)
    quiet = Instruments(slow_query_seconds=3600)
    with Store(chatdb_dsn, querier_factory=instrumented_querier(quiet)) as s, s.querier() as q:
        caplog.clear()
        q.get_chat_by_id(id=f.chat().id)
    assert not caplog.records


def test_nothing_enabled_means_the_plain_querier() -> None:
    assert instrumented_querier(Instruments()) is Querier
    assert async_instrumented_querier(Instruments()) is AsyncQuerier
    assert instrumented_querier(Instruments(slow_query_seconds=1)) is not Querier


async def test_async_queries_are_measured(
    chatdb_dsn: str, obs: Instruments, registry: CollectorRegistry, f: Any
) -> None:
    chat = f.chat()
    factory = async_instrumented_querier(obs)
    async with AsyncStore(chatdb_dsn, querier_factory=factory) as s, s.querier() as q:
        assert (await q.get_chat_by_id(id=chat.id)).id == chat.id
        with pytest.raises(NotFound):
            await q.get_chat_by_id(id=uuid.uuid4())
    assert count(registry, "GetChatByID") == 2
    assert errors(registry, "GetChatByID", "NotFound") == 1


def test_pool_gauges_come_from_the_pool_stats(
    chatdb_dsn: str, registry: CollectorRegistry, conn: Any
) -> None:
    with Store(chatdb_dsn, querier_factory=Querier, min_size=2, max_size=3, name="main") as s:
        s.pool.wait(10)
        register_pool(s.pool, registry)
        labels = {"pool": "main"}
        with s.querier() as q:
            q.get_chat_retention_days()
            assert registry.get_sample_value("chatdb_pool_size", labels) == 2
            assert registry.get_sample_value("chatdb_pool_available", labels) == 1
            assert registry.get_sample_value("chatdb_pool_max_size", labels) == 3
        assert registry.get_sample_value("chatdb_pool_requests_waiting", labels) == 0
        assert (registry.get_sample_value("chatdb_pool_requests_total", labels) or 0) >= 1
        # Kill the pool's idle connections: the pool finds them broken when it checks them.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        s.pool.check()
        lost = registry.get_sample_value("chatdb_pool_connections_lost_total", labels)
        assert lost == 2


async def test_pool_gauges_of_an_async_store(chatdb_dsn: str, registry: CollectorRegistry) -> None:
    factory = async_instrumented_querier(Instruments())
    async with AsyncStore(chatdb_dsn, querier_factory=factory, min_size=1, max_size=2) as s:
        await s.pool.wait(10)
        register_pool(s.pool, registry)
        labels = {"pool": str(s.pool.name)}
        async with s.querier() as q:
            await q.get_chat_retention_days()
            assert registry.get_sample_value("chatdb_pool_size", labels) == 1
            assert registry.get_sample_value("chatdb_pool_available", labels) == 0
        assert registry.get_sample_value("chatdb_pool_available", labels) == 1
        assert registry.get_sample_value("chatdb_pool_max_size", labels) == 2
        assert (registry.get_sample_value("chatdb_pool_requests_total", labels) or 0) >= 1
