"""Fixtures for the event tests: the workflow fixtures, a live listener and its hub."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from chatdb.db import Querier
from chatdb.events import ChatEvents, Event, Item, Kind, Listener, Subscription, publish
from chatdb.store import Store
from tests.ops import conftest as workflow_fixtures

# The workflow tests' fixtures (a Store, people, a default model, ...).
store = workflow_fixtures.store
conn = workflow_fixtures.conn
f = workflow_fixtures.f
org = workflow_fixtures.org
model = workflow_fixtures.model
alice = workflow_fixtures.alice
bob = workflow_fixtures.bob
chats = workflow_fixtures.chats

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def listener(chatdb_dsn: str) -> Iterator[Listener]:
    with Listener(chatdb_dsn, reconnect_delays=(0.02, 0.2)) as lst:
        assert lst.wait_connected(10), "the listener never connected"
        yield lst


@pytest.fixture
def hub(listener: Listener, store: Store[Querier]) -> ChatEvents:
    """Waits driven by events only: the slow poll is longer than any test waits."""
    return ChatEvents(listener, store, poll_interval=120.0, fallback_interval=120.0)


@pytest.fixture
def marker(conn: psycopg.Connection[Any]) -> Callable[[Any], Event]:
    """Commit a MARKER event (chat.updated with data marker=n) about ``chat`` on its own.

    Notifications arrive in commit order, so a subscriber that reads up to the marker has
    seen everything committed before it: the tests use it as a barrier instead of sleeping.
    """
    counter = iter(range(1_000_000))

    def send(chat: Any) -> Event:
        event = Event(
            Kind.CHAT_UPDATED,
            chat.id,
            chat.owner_id,
            chat.organization_id,
            chat.root_chat_id,
            {"marker": next(counter)},
        )
        with conn.transaction():
            publish(conn, [event])
        return event

    return send


def read_until(sub: Subscription, stop: Event, timeout: float = 20.0) -> list[Item]:
    """Everything ``sub`` receives before ``stop`` (which must arrive within ``timeout``)."""
    got: list[Item] = []
    deadline = time.monotonic() + timeout
    # Bounded by the deadline, not only per item: a stream of other items must not spin forever.
    while (left := deadline - time.monotonic()) > 0:
        item = sub.get(left)
        assert item is not None, f"{stop} never arrived; got {got}"
        if item == stop:
            return got
        got.append(item)
    raise AssertionError(f"{stop} never arrived within {timeout} s; got {got}")


def events_of(items: list[Item]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]
