"""What each workflow of :mod:`chatdb.ops` costs: time per call, statements and round trips.

Every workflow runs through ``Chats`` on a Store with one connection (so the statements of a
call are all on the connection that is traced), authorized as the actor a service would use
(a chat-access user for the user workflows, ``CHATD`` for the worker ones, ``DBPURGE`` for
the retention purge), events on. The
baseline is the same workflow with pipelining off. The workflows run their transaction
pipelined (``Workflows._run``, ``Store._pipelined``): BEGIN travels with the first statement
whose result is read, and COMMIT with the statements left unread (the events' NOTIFY) in one
last wait. Both sides run on the same connection, alternately (``bench.harness.compare``).

The ``sent`` column is counted from libpq's trace (:mod:`chatdb.testing.statements`, the
counter ``tests/ops/test_ops_statements.py`` pins the counts with): statements of one call
after warm-up (BEGIN and COMMIT included), then the round trips pipelined and, in brackets,
not pipelined. A round trip is a wait for the server: pipelined, one per statement whose
result the workflow reads plus one to commit; not pipelined, one per statement.

A workflow that changes the state it needs (a message admitted into an idle chat leaves it
pending) takes a fresh chat per call from a pool seeded with set-based SQL beforehand, sized
for the whole run (a first touch: the connection has not seen the chat); the others act on
the same few chats again (a workflow with a natural inverse runs as a pair, pin then unpin).
Bob owns the pools' chats (about 80,000 in a full run) and acts on them; alice owns a few dozen
(her pins, her list, a family) and acts on those. One row pins and unpins a chat of bob's: the
pin statements renumber the owner's pins and cost grows with the owner's chats.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

import psycopg

from bench.bench_chat_layer import _plan_summary
from bench.harness import FULL, MIN_WARMUP_OPS, QUICK, Result, Settings, compare, render_table
from chatdb.authz import CHAT_ACCESS, CHATD, DBPURGE, Subject
from chatdb.db import Querier
from chatdb.db.chat_workers import GET_STALE_CHATS
from chatdb.db.chats import PIN_CHAT_BY_ID
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories
from chatdb.testing.statements import StatementCount, count_statements

GROUP = "workflows"
T = TypeVar("T")
Op = Callable[[], object]

# No workflow here takes less than this on the bench machine: pools are sized from it.
FASTEST_WORKFLOW_US = 250.0
REFILL = 500


class Switchable(Store[Querier]):
    """A Store whose workflows' pipelining can be switched off (the baseline)."""

    pipelined = True

    def in_tx(self, fn: Callable[[Querier], T], **kwargs: Any) -> T:
        kwargs["pipeline"] = kwargs.get("pipeline", False) and self.pipelined
        return super().in_tx(fn, **kwargs)


class Pool(Generic[T]):
    """Objects prepared for one call each, seeded in bulk before timing (refilled if short)."""

    def __init__(self, make: Callable[[int], list[T]], size: int) -> None:
        self._make = make
        self._items: deque[T] = deque(make(size))
        self.refills = 0

    def take(self) -> T:
        if not self._items:
            self.refills += 1
            self._items.extend(self._make(REFILL))
        return self._items.popleft()


def capacity(settings: Settings) -> int:
    """The most calls both sides of one comparison make (warm-up, counting and timing)."""
    per_round = settings.round_seconds * 1e6 / FASTEST_WORKFLOW_US + settings.slices
    warmup = max(MIN_WARMUP_OPS, settings.warmup_seconds * 1e6 / FASTEST_WORKFLOW_US)
    return int(2 * (settings.rounds * per_round + warmup)) + 10


@dataclass(frozen=True, slots=True)
class Case:
    """One timed row: ``steps`` run in order per call, each counted on its own."""

    name: str
    steps: tuple[tuple[str, Op], ...]
    pools: tuple[Pool[Any], ...] = ()
    note: str = ""

    def __call__(self) -> None:
        for _, step in self.steps:
            step()


def one(name: str, op: Op, *pools: Pool[Any], note: str = "") -> Case:
    return Case(name, (("", op),), pools, note)


# -- seeding


class Timeline:
    """Chats made one second apart from ``base`` (long ago), and for each a cutoff just past
    its time: a job run with the k-th cutoff finds exactly the k-th chat (the ones before it
    are done already). Called with ``n``, it makes ``n`` more and returns their cutoffs."""

    def __init__(self, base: datetime, make: Callable[[int, datetime], object]) -> None:
        self.base = base
        self._make = make
        self._made = 0

    def __call__(self, n: int) -> list[datetime]:
        start = self.base + timedelta(seconds=self._made)
        self._make(n, start)
        self._made += n
        return [start + timedelta(seconds=g + 0.5) for g in range(1, n + 1)]


class Seed:
    """The rows the workflows act on; pools are seeded with INSERT ... SELECT."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        f = Factories(conn)
        self.f = f
        self.org = f.organization()
        self.model = f.chat_model_config(is_default=True)
        self.alice = self.person("alice")  # a few dozen chats: her pins, list, family
        self.bob = self.person("bob")  # owns the pools: a fresh chat per call
        self.past = datetime.now(UTC) - timedelta(days=3650)

    def person(self, name: str) -> Subject:
        user = self.f.user(organization_id=self.org.id, username=name, rbac_roles=[CHAT_ACCESS])
        return Subject(id=user.id, name=name, site_roles=[CHAT_ACCESS], memberships={self.org.id})

    def chats(
        self,
        n: int,
        status: str = "waiting",
        *,
        owner: UUID | None = None,
        worker: UUID | None = None,
        since: datetime | None = None,
        archived: bool = False,
    ) -> list[UUID]:
        """``n`` root chats of ``owner`` (bob); with ``since``, chat g was last active (and,
        when running, last heartbeat; when archived, archived) ``since`` + g seconds, else
        now."""
        rows = self.conn.execute(
            """
            INSERT INTO chats (owner_id, organization_id, last_model_config_id, title, status,
                worker_id, started_at, heartbeat_at, updated_at, archived)
            SELECT %(owner)s, %(org)s, %(model)s, 'bench ' || g, %(status)s::chat_status,
                %(worker)s, t, t, t, %(archived)s
            FROM generate_series(1, %(n)s) AS g,
                LATERAL (SELECT coalesce(%(since)s::timestamptz + make_interval(secs => g),
                                         now()) AS t) AS at
            ORDER BY g
            RETURNING id
            """,
            {
                "owner": owner or self.bob.id,
                "org": self.org.id,
                "model": self.model.id,
                "status": status,
                "worker": worker if status == "running" else None,
                "since": since,
                "archived": archived,
                "n": n,
            },
        ).fetchall()
        return [r[0] for r in rows]

    def queued(self, chat_ids: list[UUID]) -> list[tuple[UUID, int]]:
        """One queued user message per chat: (chat, queued message id)."""
        rows = self.conn.execute(
            """
            INSERT INTO chat_queued_messages (chat_id, content, model_config_id)
            SELECT c, '[{"type": "text", "text": "queued"}]'::jsonb, %s
            FROM unnest(%s::uuid[]) WITH ORDINALITY AS u(c, n) ORDER BY n
            RETURNING chat_id, id
            """,
            (self.model.id, chat_ids),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def messages(self, chat_ids: list[UUID], role: str, cost: int | None = None) -> list[int]:
        """One message of ``role`` per chat; returns their ids in the chats' order."""
        rows = self.conn.execute(
            """
            INSERT INTO chat_messages (chat_id, role, content, content_version,
                model_config_id, total_cost_micros)
            SELECT c, %s::chat_message_role, '[{"type": "text", "text": "hello"}]'::jsonb, 1,
                %s, %s
            FROM unnest(%s::uuid[]) WITH ORDINALITY AS u(c, n) ORDER BY n
            RETURNING id
            """,
            (role, self.model.id, cost, chat_ids),
        ).fetchall()
        return [r[0] for r in rows]

    def count(self, query: str, *params: Any) -> int:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return int(row[0])

    def replied(self, chat_ids: list[UUID]) -> list[UUID]:
        """The chats, each given an assistant reply (unread: no read watermark yet)."""
        self.messages(chat_ids, "assistant")
        return chat_ids

    def family(self, size: int) -> UUID:
        """A root chat of alice's and a line of ``size - 1`` descendants; returns the root."""
        root = parent = self.chats(1, "completed", owner=self.alice.id)[0]
        for _ in range(size - 1):
            parent = self.f.chat(
                owner_id=self.alice.id,
                organization_id=self.org.id,
                last_model_config_id=self.model.id,
                parent_chat_id=parent,
                root_chat_id=root,
                status="completed",
            ).id
        return root


# -- the cases


def cases(seed: Seed, chats: Chats, settings: Settings) -> list[Case]:
    alice, org, size = seed.alice, seed.org.id, capacity(settings)
    me: dict[str, Any] = {"actor": alice}
    bob: dict[str, Any] = {"actor": seed.bob}  # acts on the pools' chats

    idle = Pool(lambda n: seed.chats(n, "waiting"), size)
    # Running (a worker has them), each with one queued message: promoting interrupts the run.
    to_promote = Pool(lambda n: seed.queued(seed.chats(n, "running", worker=uuid4())), size)
    auto = Pool(lambda n: [c for c, _ in seed.queued(seed.chats(n, "completed"))], size)
    unread = Pool(lambda n: seed.replied(seed.chats(n, "completed")), size)
    # Pending chats older than any other, so acquisition takes them first, oldest first.
    seed.chats(size, "pending", since=seed.past)
    acquirer = uuid4()
    # Running chats whose worker went silent, one second apart: each recovery finds one.
    silent = Timeline(
        seed.past - timedelta(days=3650),
        lambda n, since: seed.chats(n, "running", worker=uuid4(), since=since),
    )
    stale = Pool(silent, size)
    # Archived chats (a reply each), one second apart: each purge deletes one.
    expired = Pool(
        Timeline(
            seed.past - timedelta(days=7300),
            lambda n, since: seed.replied(seed.chats(n, "completed", since=since, archived=True)),
        ),
        size,
    )

    busy = itertools.cycle(seed.chats(20, "running", worker=uuid4(), owner=alice.id))
    heartbeating = uuid4()
    seed.chats(10, "running", worker=heartbeating)

    # Edit: each chat's latest user message is replaced again by the next edit.
    editable = seed.chats(20, "pending", owner=alice.id)
    latest = dict(zip(editable, seed.messages(editable, "user"), strict=True))
    edit_turn = itertools.cycle(editable)

    def edit() -> object:
        chat = next(edit_turn)
        edited = chats.edit_message(latest[chat], "edited", **me)
        latest[chat] = edited.message.id
        return edited

    family = seed.family(3)
    # Alice has four pinned chats: one is moved among them, one more is pinned and unpinned.
    pinned = seed.chats(4, "completed", owner=alice.id)
    for chat in pinned:
        chats.pin(chat, **me)
    toggled, renamed = seed.chats(2, "completed", owner=alice.id)
    bobs = seed.chats(1, "completed")[0]
    bobs_chats = seed.count("SELECT count(*) FROM chats WHERE owner_id = %s", seed.bob.id)
    positions = itertools.cycle([1, 4])
    titles = itertools.count()
    reported = seed.chats(1, "running", worker=uuid4(), owner=alice.id)[0]
    spender = seed.person("dave")  # checks his own spend over 20 chats
    seed.messages(seed.chats(20, "completed", owner=spender.id), "assistant", cost=1500)
    seed.f.chat_usage_limit_config(enabled=True, default_limit_micros=10**9, period="month")
    data = b"x" * 1024
    seed.conn.execute("ANALYZE")
    leases = seed.count("SELECT count(*) FROM chat_leases")
    stale_plan = _plan_summary(seed.conn, GET_STALE_CHATS, (silent.base + timedelta(days=1),))
    pin_plan = _plan_summary(seed.conn, PIN_CHAT_BY_ID, (bobs,))

    return [
        one("create_chat, no message", lambda: chats.create_chat(organization_id=org, **me)),
        one(
            "create_chat with the first message",
            lambda: chats.create_chat(organization_id=org, content="hello", **me),
        ),
        one(
            "send_message, admitted (idle chat)",
            lambda: chats.send_message(idle.take(), "hello", **bob),
            idle,
        ),
        one(
            "send_message, queued (running chat)",
            lambda: chats.send_message(next(busy), "later", **me),
        ),
        one(
            "promote_queued, chosen message (running chat)",
            lambda: chats.promote_queued(*to_promote.take(), **bob),
            to_promote,
        ),
        one(
            "auto_promote, one queued (completed chat)",
            lambda: chats.auto_promote(auto.take(), **bob),
            auto,
        ),
        one("edit_message", edit),
        Case(
            "archive + unarchive, family of 3",
            (
                ("archive", lambda: chats.archive(family, **me)),
                ("unarchive", lambda: chats.unarchive(family, **me)),
            ),
        ),
        Case(
            "pin + unpin (4 other pins)",
            (
                ("pin", lambda: chats.pin(toggled, **me)),
                ("unpin", lambda: chats.unpin(toggled, **me)),
            ),
        ),
        Case(
            f"pin + unpin, owner of {bobs_chats:,} chats",
            (
                ("pin", lambda: chats.pin(bobs, **bob)),
                ("unpin", lambda: chats.unpin(bobs, **bob)),
            ),
            note=f"PinChatByID plan: {pin_plan}",
        ),
        one("reorder_pin (4 pins)", lambda: chats.reorder_pin(pinned[0], next(positions), **me)),
        one("mark_read, one unread reply", lambda: chats.mark_read(unread.take(), **bob), unread),
        one(
            "update_chat, title",
            lambda: chats.update_chat(renamed, title=f"title {next(titles)}", **me),
        ),
        one("list_chats, page of 50", lambda: chats.list_chats(limit=50, **me)),
        one(
            "upload_file, 1 KiB",
            lambda: chats.upload_file(
                name="a.txt", mimetype="text/plain", data=data, organization_id=org, **me
            ),
        ),
        one(
            "report_git_reference",
            lambda: chats.report_git_reference(reported, git_branch="main", **me),
        ),
        one(
            "check_usage_limit, default limit",
            lambda: chats.check_usage_limit(spender.id, org, actor=spender),
        ),
        one(
            "acquire_chats, 1 (chatd)",
            lambda: chats.acquire_chats(acquirer, actor=CHATD, num_chats=1),
        ),
        one(
            "heartbeat, 10 running chats (chatd)",
            lambda: chats.heartbeat(heartbeating, actor=CHATD),
        ),
        one(
            "recover_stale_chats, 1 stale (chatd)",
            lambda: chats.recover_stale_chats(stale.take(), actor=CHATD),
            stale,
            note=f"{leases:,} leases (running chats); GetStaleChats plan: {stale_plan}",
        ),
        one(
            "purge_chats, 1 archived chat (dbpurge)",
            lambda: chats.purge_chats(expired.take(), actor=DBPURGE),
            expired,
        ),
    ]


# -- measuring


def _count(store: Switchable, step: Op, *, pipelined: bool) -> StatementCount:
    with store.connection() as conn:
        pass  # the pool's only connection: the workflow gets the same one back
    store.pipelined = pipelined
    try:
        with count_statements(conn) as sent:
            step()
    finally:
        store.pipelined = True
    return sent


def _sent(store: Switchable, case: Case) -> str:
    """'statements / round trips (round trips unpipelined)' of each step: the steps are
    counted in order, one call each, pipelined, then again unpipelined."""
    counted = {
        pipelined: [_count(store, step, pipelined=pipelined) for _, step in case.steps]
        for pipelined in (True, False)
    }
    out = []
    for (label, _), on, off in zip(case.steps, counted[True], counted[False], strict=True):
        statements = f"{len(on)}" if len(on) == len(off) else f"{len(on)}|{len(off)}"
        text = f"{statements} / {on.round_trips} ({off.round_trips})"
        out.append(f"{label} {text}" if label else text)
    return "; ".join(out)


def measure(store: Switchable, case: Case, settings: Settings) -> Result:
    for _ in range(2):  # statements are prepared on their second use
        case()
    sent = _sent(store, case)

    def unpipelined() -> None:
        store.pipelined = False
        case()

    def pipelined() -> None:
        store.pipelined = True
        case()

    result = compare(
        GROUP, case.name, ("pipelining off", unpipelined), ("pipelined", pipelined), settings
    )
    refills = sum(p.refills for p in case.pools)
    short = f"its pool ran short {refills}× (seeded inside a timed slice)" if refills else ""
    store.pipelined = True
    return replace(result, sent=sent, note="; ".join(n for n in (case.note, short) if n))


def run(dsn: str, settings: Settings = FULL) -> list[Result]:
    store = Switchable(dsn, querier_factory=Querier, min_size=1, max_size=1)
    with psycopg.connect(dsn, autocommit=True) as conn, store:
        seed = Seed(conn)
        chats = Chats(store)
        return [measure(store, case, settings) for case in cases(seed, chats, settings)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_workflows", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny rounds: proves it runs")
    args = parser.parse_args(argv)

    from chatdb.migrate import Migrator
    from codegen.pgserver import throwaway_server

    with throwaway_server() as server:
        name = server.create_database()
        dsn = server.dsn(name)
        Migrator(dsn).up()
        results = run(dsn, QUICK if args.quick else FULL)
    print(render_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
