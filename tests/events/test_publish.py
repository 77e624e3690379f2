"""Publishing a batch: every event, in the order given, on commit only, however many."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from chatdb.events import PENDING_CHANNEL, Event, Kind, Listener, publish
from chatdb.events.publish import PUBLISH_BATCH
from tests.events.conftest import read_until

pytestmark = pytest.mark.timeout(60)


def test_a_large_batch_arrives_whole_and_in_order(
    listener: Listener, conn: psycopg.Connection[Any]
) -> None:
    chat = uuid.uuid4()
    sub = listener.subscribe(chat_id=chat, channels=(listener.channels[0], PENDING_CHANNEL))
    for size in (1, PUBLISH_BATCH, 2 * PUBLISH_BATCH + 3):
        sent = [
            Event(Kind.CHAT_PENDING if n % 5 == 0 else Kind.CHAT_UPDATED, chat, chat, chat, None,
                  {"n": n})
            for n in range(size)
        ]  # fmt: skip
        end = Event(Kind.CHAT_UPDATED, chat, chat, chat, None, {"end": size})
        with conn.transaction():
            publish(conn, sent)
            assert sub.get(0.2) is None  # nothing before COMMIT
        with conn.transaction():
            publish(conn, [end])
        assert read_until(sub, end) == sent
