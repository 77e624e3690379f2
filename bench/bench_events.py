"""What events cost: publishing with the write, delivery latency, fan-out.

* ``send_message`` with events on vs off (same store, same chat, a listener running as in a
  service): the extra statement and the NOTIFY at commit.
* Latency from the start of COMMIT to a subscriber thread holding the event (median, p99).
* Fan-out: batches of events delivered to 100 subscribers, each read by its own thread.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any

import psycopg

from bench.harness import FULL, Result, Settings, compare
from chatdb.authz import CHAT_ACCESS, Subject, as_actor
from chatdb.db import Querier
from chatdb.events import Event, Kind, Listener, publish
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

GROUP = "events"


def _event(chat: uuid.UUID, n: int) -> Event:
    return Event(Kind.CHAT_UPDATED, chat, chat, chat, None, {"n": n})


def _seed(dsn: str) -> Subject:
    """A chat user of an organization, and a default model."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        f = Factories(conn)
        org = f.organization()
        user = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
        f.chat_model_config(is_default=True)
    return Subject(id=user.id, name="bench", site_roles=[CHAT_ACCESS], memberships={org.id})


def _publish_overhead(
    dsn: str, me: Subject, listener: Listener | None, settings: Settings
) -> Result:
    org_id = next(iter(me.memberships))
    with Store(dsn, querier_factory=Querier, min_size=1, max_size=1) as store:
        on, off = Chats(store), Chats(store, events=False)
        # A subscriber that never reads (bounded): the listener decodes and filters each event.
        sub = None if listener is None else listener.subscribe(maxsize=10)
        with as_actor(me):
            chat = on.create_chat(organization_id=org_id, content="busy").chat  # sends queue

            result = compare(
                GROUP,
                "send_message, events on vs off"
                + (", no listener" if listener is None else ", listener in process"),
                ("events=False", lambda: off.send_message(chat.id, "hi")),
                ("events=True", lambda: on.send_message(chat.id, "hi")),
                settings,
                note="one transaction each (lock, insert into the queue)",
            )
        if sub is not None:
            sub.close()
        return result


def _latency(dsn: str, listener: Listener, settings: Settings) -> Result:
    n = 60 if settings.rounds < FULL.rounds else 600
    chat = uuid.uuid4()
    sub = listener.subscribe(chat_id=chat, maxsize=n + 10)
    received: list[float] = []
    done = threading.Event()

    def reader() -> None:
        for _ in range(n):
            if sub.get(10) is None:
                break
            received.append(time.perf_counter())
        done.set()

    thread = threading.Thread(target=reader)
    thread.start()
    started: list[float] = []
    with psycopg.connect(dsn) as conn:
        for i in range(n):
            publish(conn, [_event(chat, i)])
            count = len(received)
            started.append(time.perf_counter())
            conn.commit()
            while len(received) == count and not done.is_set():  # one event in flight
                time.sleep(0)
    thread.join()
    sub.close()
    lat = sorted((r - s) * 1e6 for s, r in zip(started, received, strict=False))
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    median = statistics.median(lat)
    return Result(
        GROUP,
        "commit → subscriber latency",
        "median",
        "p99",
        median,
        p99,
        p99 / median,
        p99 / median,
        p99 / median,
        1,
        len(lat),
        note="from the start of COMMIT to a subscriber thread holding the event, one at a time",
    )


def _fan_out(dsn: str, listener: Listener, settings: Settings, subscribers: int = 100) -> Result:
    batches, per_batch = (5, 20) if settings.rounds < FULL.rounds else (40, 50)
    total = batches * per_batch
    chat = uuid.uuid4()
    subs = [listener.subscribe(chat_id=chat, maxsize=total + 10) for _ in range(subscribers)]
    finished: list[float] = []
    lock = threading.Lock()

    def reader(sub: Any) -> None:
        for _ in range(total):
            if sub.get(30) is None:
                return
        with lock:
            finished.append(time.perf_counter())

    threads = [threading.Thread(target=reader, args=(s,)) for s in subs]
    for t in threads:
        t.start()
    start = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        for b in range(batches):
            publish(conn, [_event(chat, b * per_batch + i) for i in range(per_batch)])
            conn.commit()
    for t in threads:
        t.join()
    for s in subs:
        s.close()
    elapsed_us = (max(finished) - start) * 1e6
    per_event = elapsed_us / total
    return Result(
        GROUP,
        f"fan-out to {subscribers} subscribers",
        "per event",
        "per delivery",
        per_event,
        per_event / subscribers,
        1.0,
        1.0,
        1.0,
        1,
        total,
        note=f"{total} events in {batches} commits, each read by {subscribers} threads: "
        f"{total * subscribers / (elapsed_us / 1e6):,.0f} deliveries/s",
    )


def run(dsn: str, settings: Settings = FULL) -> list[Result]:
    me = _seed(dsn)
    alone = _publish_overhead(dsn, me, None, settings)
    with Listener(dsn) as listener:
        if not listener.wait_connected(10):
            raise RuntimeError("the event listener did not connect")
        return [
            alone,
            _publish_overhead(dsn, me, listener, settings),
            _latency(dsn, listener, settings),
            _fan_out(dsn, listener, settings),
        ]
