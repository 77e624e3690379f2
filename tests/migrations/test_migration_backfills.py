"""Every migration that rewrites existing rows, tested on populated data.

Each test migrates a fresh database to the version just before the step, writes realistic rows
with raw SQL in the shape the schema had then, migrates through the step and checks the
backfilled values (and that chats.updated_at, the list order and archive time, is untouched).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from chatdb.cost import ModelPricing, message_cost_micros
from chatdb.errors import CheckViolation, NotNullViolation, classify
from chatdb.migrate import MigrationError, Migrator, default_migrations_dir, load_migrations
from codegen.pgserver import PgServer, throwaway_server

VERSIONS = {m.name: m.version for m in load_migrations(default_migrations_dir())}


def version_of(name: str) -> int:
    return VERSIONS[name]


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A fixed timestamp, ``minutes`` after T0, so order and equality are exact."""
    return T0 + timedelta(minutes=minutes)


class Db:
    """A fresh database and a small vocabulary of raw inserts for the older schemas."""

    def __init__(self, dsn: str, conn: psycopg.Connection[Any]) -> None:
        self.dsn = dsn
        self.conn = conn
        self.migrator = Migrator(dsn)

    def up_to(self, version: int) -> None:
        self.migrator.up(target=version)

    def through(self, name: str) -> None:
        """Apply migrations up to and including ``name``."""
        self.migrator.up(target=version_of(name))

    def one(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    def column(self, query: str, params: tuple[Any, ...] = ()) -> dict[Any, Any]:
        """The two-column result of ``query`` as a dict."""
        return {k: v for k, v in self.conn.execute(query, params).fetchall()}

    def user(self, username: str, roles: list[str] | None = None) -> uuid.UUID:
        return self.one(  # type: ignore[no-any-return]
            "INSERT INTO users (email, username, rbac_roles) VALUES (%s, %s, %s) RETURNING id",
            (f"{username}@example.com", username, roles or []),
        )

    def org(self, name: str, *, default: bool = False, id: str | None = None) -> uuid.UUID:
        return self.one(  # type: ignore[no-any-return]
            "INSERT INTO organizations (id, name, is_default)"
            " VALUES (coalesce(%s::uuid, gen_random_uuid()), %s, %s) RETURNING id",
            (id, name, default),
        )

    def member(self, org: uuid.UUID, user: uuid.UUID, joined: datetime) -> None:
        self.conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, created_at)"
            " VALUES (%s, %s, %s)",
            (org, user, joined),
        )

    def workspace(self, owner: uuid.UUID, org: uuid.UUID) -> uuid.UUID:
        return self.one(  # type: ignore[no-any-return]
            "INSERT INTO workspaces (owner_id, organization_id, name) VALUES (%s, %s, 'dev')"
            " RETURNING id",
            (owner, org),
        )

    def model(self, options: dict[str, Any] | None = None) -> uuid.UUID:
        self.conn.execute(
            "INSERT INTO chat_providers (provider) VALUES ('anthropic') ON CONFLICT DO NOTHING"
        )
        return self.one(  # type: ignore[no-any-return]
            "INSERT INTO chat_model_configs (provider, model, context_limit,"
            " compression_threshold, options) VALUES ('anthropic', 'claude', 200000, 70, %s)"
            " RETURNING id",
            (Jsonb(options or {}),),
        )

    def chat(self, owner: uuid.UUID, model: uuid.UUID, **columns: Any) -> uuid.UUID:
        """A chat with only the columns every schema version has, plus ``columns``."""
        values = {
            "owner_id": owner,
            "last_model_config_id": model,
            "status": "waiting",
            "updated_at": at(0),
            **columns,
        }
        return self.one(  # type: ignore[no-any-return]
            f"INSERT INTO chats ({', '.join(values)})"  # column names are ours, values bound
            f" VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
            tuple(values.values()),
        )

    def message(self, chat: uuid.UUID, role: str, **columns: Any) -> int:
        values = {"chat_id": chat, "role": role, "content": Jsonb("hello"), **columns}
        return self.one(  # type: ignore[no-any-return]
            f"INSERT INTO chat_messages ({', '.join(values)})"
            f" VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
            tuple(values.values()),
        )

    def updated_at(self) -> dict[uuid.UUID, datetime]:
        return self.column("SELECT id, updated_at FROM chats")


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    with throwaway_server() as srv:
        yield srv


@pytest.fixture
def db(server: PgServer) -> Iterator[Db]:
    name = server.create_database()
    dsn = server.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield Db(dsn, conn)
    server.drop_database(name)


@pytest.fixture
def ada(db: Db) -> Callable[[], tuple[uuid.UUID, uuid.UUID]]:
    """Creates (user, model config) once the core and chat tables exist."""

    def make() -> tuple[uuid.UUID, uuid.UUID]:
        return db.user("ada"), db.model()

    return make


def chat_kinds(
    db: Db, owner: uuid.UUID, model: uuid.UUID, *, parent: uuid.UUID, **columns: Any
) -> dict[str, uuid.UUID]:
    """One chat of each kind a backfill must not skip, besides a plain root chat (``parent``):
    archived, sub-agent (of ``parent``) and archived sub-agent."""
    family = {"parent_chat_id": parent, "root_chat_id": parent}
    return {
        "archived": db.chat(owner, model, archived=True, **columns),
        "sub-agent": db.chat(owner, model, **family, **columns),
        "archived sub-agent": db.chat(owner, model, archived=True, **family, **columns),
    }


# --- chat_messages.role: text -> enum, content_version -------------------------------------------


def test_text_roles_become_the_enum_and_old_messages_are_content_version_0(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_message_role_enum") - 1)
    user, model = ada()
    chat = db.chat(user, model)
    ids = {role: db.message(chat, role) for role in ("system", "user", "assistant", "tool")}
    summary = db.message(chat, "system", compressed=True, visibility="model")
    # Every kind of chat the schema has by now: archived, sub-agent, archived sub-agent.
    others = {
        db.message(other, role): role
        for other in chat_kinds(db, user, model, parent=chat).values()
        for role in ("user", "assistant")
    }

    db.through("chat_message_role_enum")

    assert db.one("SELECT pg_typeof(role)::text FROM chat_messages LIMIT 1") == "chat_message_role"
    assert db.column("SELECT id, role::text FROM chat_messages WHERE id <> %s", (summary,)) == {
        **{v: k for k, v in ids.items()},
        **others,
    }
    assert db.column("SELECT id, content_version FROM chat_messages") == {
        **{i: 0 for i in ids.values()},
        summary: 0,
        **{i: 0 for i in others},
    }
    # The default only existed to backfill: a new message must state its version.
    try:
        db.conn.execute(
            "INSERT INTO chat_messages (chat_id, role, content) VALUES (%s, 'user', '[]')",
            (chat,),
        )
    except psycopg.Error as exc:
        assert isinstance(classify(exc), NotNullViolation)
    else:
        raise AssertionError("a message without content_version was accepted")
    db.conn.execute(
        "INSERT INTO chat_messages (chat_id, role, content, content_version)"
        " VALUES (%s, 'user', '[]', 1)",
        (chat,),
    )


def test_reverting_the_role_enum_keeps_every_role_as_text(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.through("chat_message_role_enum")
    user, model = ada()
    chat = db.chat(user, model)
    for role in ("system", "user", "assistant", "tool"):
        db.message(chat, role, content_version=1)

    db.migrator.down(1)

    assert db.one("SELECT pg_typeof(role)::text FROM chat_messages LIMIT 1") == "text"
    assert sorted(db.column("SELECT id, role FROM chat_messages").values()) == [
        "assistant",
        "system",
        "tool",
        "user",
    ]


# --- total_cost_micros --------------------------------------------------------------------------


def cost_options(**prices: Any) -> dict[str, Any]:
    return {"cost": {f"{k}_price_per_million_tokens": v for k, v in prices.items()}}


def test_message_costs_are_backfilled_from_model_pricing_rounding_up_once(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_message_cost") - 1)
    user, _ = ada()
    priced = db.model(
        cost_options(input="3", output="15", cache_read="0.10", cache_write="3.75")
        | {"provider_options": {"anthropic": {"effort": "high"}}}
    )
    numbers = db.model(cost_options(input=2.1))
    free = db.model(cost_options(input="0", output="0", cache_read="0", cache_write="0"))
    unpriced = db.model({"max_output_tokens": 1000})
    input_only = db.model(cost_options(input="1"))
    malformed = db.model(cost_options(input="three dollars", output=-1))
    chat = db.chat(user, priced)

    def step(model: uuid.UUID | None, **tokens: int) -> int:
        return db.message(chat, "assistant", model_config_id=model, content_version=1, **tokens)

    expected = {
        # 123*3 + 45*15 + 1001*0.10 + 7*3.75 = 369 + 675 + 100.1 + 26.25 = 1170.35 -> 1171.
        # Rounding to nearest gives 1170, rounding each component up 1172, billing the 40
        # reasoning tokens again 1771.
        step(
            priced,
            input_tokens=123,
            output_tokens=45,
            reasoning_tokens=40,
            cache_read_tokens=1001,
            cache_creation_tokens=7,
        ): 1171,
        step(priced, output_tokens=1): 15,
        step(numbers, input_tokens=3): 7,  # JSON number price: 6.3 -> 7
        step(free, input_tokens=5000, output_tokens=700): 0,  # free, not unpriced
        step(unpriced, input_tokens=5000, output_tokens=700): None,
        step(None, input_tokens=5000, output_tokens=700): None,  # no model config
        step(priced): None,  # no usage at all
        step(input_only, output_tokens=50): None,  # usage only where there is no price
        step(input_only, input_tokens=10, output_tokens=50): 10,  # unpriced buckets cost 0
        step(malformed, input_tokens=10, output_tokens=10): None,  # bad prices: not configured
        db.message(chat, "user", model_config_id=priced, content_version=1): None,
    }
    # Money was spent in archived and sub-agent chats too.
    for other in chat_kinds(db, user, priced, parent=chat).values():
        expected[
            db.message(
                other, "assistant", model_config_id=priced, content_version=1, output_tokens=2
            )
        ] = 30

    db.through("chat_message_cost")

    assert db.column("SELECT id, total_cost_micros FROM chat_messages") == expected
    assert db.one("SELECT to_regprocedure('pg_temp.chat_price_per_million(jsonb, text)')") is None


def test_the_cost_backfill_agrees_with_chatdb_cost_on_random_messages(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    rng = random.Random(20260313)
    db.up_to(version_of("chat_message_cost") - 1)
    user, first_model = ada()
    chat = db.chat(user, first_model)

    def random_price() -> Any:
        kind = rng.choice(["missing", "zero", "string", "number", "int", "tiny", "bad"])
        return {
            "missing": None,
            "zero": "0",
            "string": f"{rng.randint(0, 80)}.{rng.randint(0, 999):03d}",
            "number": rng.randint(0, 8000) / 100,
            "int": rng.randint(0, 100),
            "tiny": "0.000000000001",
            "bad": rng.choice(["1e3", "-2", "", "free", " 4 ", "0.0000000000001", "1000000000"]),
        }[kind]

    options: dict[uuid.UUID, dict[str, Any]] = {}
    for _ in range(12):
        prices = {k: random_price() for k in ("input", "output", "cache_read", "cache_write")}
        opts = cost_options(**{k: v for k, v in prices.items() if v is not None})
        if rng.random() < 0.15:
            opts = {}
        options[db.model(opts)] = opts

    usage: dict[int, tuple[uuid.UUID | None, dict[str, int | None]]] = {}
    for _ in range(300):
        chosen: uuid.UUID | None = rng.choice([*options, None])
        tokens = {
            name: rng.choice([None, 0, rng.randint(1, 50), rng.randint(1, 5_000_000)])
            for name in (
                "input_tokens",
                "output_tokens",
                "reasoning_tokens",
                "cache_read_tokens",
                "cache_creation_tokens",
            )
        }
        message = db.message(chat, "assistant", model_config_id=chosen, content_version=1, **tokens)
        usage[message] = (chosen, tokens)

    db.through("chat_message_cost")

    backfilled = db.column("SELECT id, total_cost_micros FROM chat_messages")
    for message, (model_id, tokens) in usage.items():
        pricing = ModelPricing.from_options(options[model_id]) if model_id is not None else None
        want = message_cost_micros(pricing, **tokens)
        assert backfilled[message] == want, (options.get(model_id) if model_id else None, tokens)
    assert any(v not in (None, 0) for v in backfilled.values())
    assert any(v is None for v in backfilled.values())


# --- last_read_message_id -----------------------------------------------------------------------


def test_chats_are_read_up_to_their_newest_live_assistant_message(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_last_read_message_id") - 1)
    user, model = ada()
    talky = db.chat(user, model, updated_at=at(5))
    quiet = db.chat(user, model, updated_at=at(6))
    empty = db.chat(user, model, updated_at=at(7))

    def msg(chat: uuid.UUID, role: str, **columns: Any) -> int:
        return db.message(chat, role, content_version=1, **columns)

    msg(talky, "assistant")
    msg(talky, "user")
    newest_live = msg(talky, "assistant")
    msg(talky, "assistant", deleted=True)  # edited away: not a read position
    msg(talky, "tool")
    msg(talky, "user")
    msg(quiet, "user")
    msg(quiet, "system")
    # Archived and sub-agent chats are read up to their newest live answer as well; a chat
    # whose only answers were deleted has nothing read.
    kinds = chat_kinds(db, user, model, parent=talky, updated_at=at(8))
    newest_of = {}
    for chat in kinds.values():
        newest_of[chat] = msg(chat, "assistant")
        msg(chat, "user")
        msg(chat, "assistant", deleted=True)
    edited_away = db.chat(user, model, updated_at=at(9))
    msg(edited_away, "assistant", deleted=True)
    msg(edited_away, "user")
    before = db.updated_at()

    db.through("chat_last_read_message_id")

    assert db.column("SELECT id, last_read_message_id FROM chats") == {
        talky: newest_live,
        quiet: None,
        empty: None,
        **newest_of,
        edited_away: None,
    }
    assert db.updated_at() == before


# --- organization_id ----------------------------------------------------------------------------


def test_chat_organizations_come_from_workspace_then_oldest_membership_then_default(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_organization_id") - 1)
    user, model = ada()
    loner = db.user("loner")
    default_org = db.org("default", default=True)
    # The oldest membership has neither the lowest nor the highest organization id.
    new_org = db.org("new", id="00000000-0000-0000-0000-000000000001")
    old_org = db.org("old", id="f0000000-0000-0000-0000-000000000000")
    mid_org = db.org("mid", id="ff000000-0000-0000-0000-000000000000")
    db.member(new_org, user, joined=at(100))
    db.member(mid_org, user, joined=at(50))
    db.member(old_org, user, joined=at(10))
    workspace = db.workspace(user, new_org)

    in_workspace = db.chat(user, model, workspace_id=workspace, updated_at=at(1))
    child = db.chat(user, model, parent_chat_id=in_workspace, root_chat_id=in_workspace)
    no_workspace = db.chat(user, model, updated_at=at(2))
    homeless = db.chat(loner, model, updated_at=at(3), archived=True)
    # The same rules for archived and sub-agent chats, with and without a workspace.
    bound = chat_kinds(db, user, model, parent=in_workspace, workspace_id=workspace)
    unbound = chat_kinds(db, user, model, parent=no_workspace)
    homeless_child = db.chat(loner, model, parent_chat_id=homeless, root_chat_id=homeless)
    before = db.updated_at()

    db.through("chat_organization_id")

    assert db.column("SELECT id, organization_id FROM chats") == {
        in_workspace: new_org,  # the workspace wins over the older membership
        child: old_org,  # no workspace of its own: the owner's oldest membership
        no_workspace: old_org,
        homeless: default_org,  # no workspace, no membership
        **{c: new_org for c in bound.values()},
        **{c: old_org for c in unbound.values()},
        homeless_child: default_org,
    }
    assert db.updated_at() == before
    assert db.one(
        "SELECT attnotnull FROM pg_attribute"
        " WHERE attrelid = 'chats'::regclass AND attname = 'organization_id'"
    )


def test_the_organization_backfill_stops_clearly_when_a_chat_has_nowhere_to_go(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    previous = version_of("chat_organization_id") - 1
    db.up_to(previous)
    user, model = ada()
    db.org("not-default")
    db.chat(user, model)

    with pytest.raises(MigrationError, match=r"cannot backfill chats\.organization_id: 1 chat"):
        db.through("chat_organization_id")

    assert db.migrator.current_version() == previous
    assert (
        db.one(
            "SELECT count(*) FROM pg_attribute"
            " WHERE attrelid = 'chats'::regclass AND attname = 'organization_id'"
        )
        == 0
    )


# --- chat_queued_messages.model_config_id -------------------------------------------------------


def test_queued_messages_take_the_model_their_chat_uses_now(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_queued_message_model_config") - 1)
    user, model = ada()
    other_model = db.model()
    org = db.org("acme", default=True)
    elsewhere = db.org("elsewhere")
    first = db.chat(user, model, organization_id=org)
    second = db.chat(user, other_model, organization_id=org)
    # Archived and sub-agent chats, and chats of another organization, hold queued input too.
    kinds = chat_kinds(db, user, other_model, parent=first, organization_id=org)
    foreign = db.chat(user, other_model, organization_id=elsewhere)
    queued = {
        db.one(
            "INSERT INTO chat_queued_messages (chat_id, content) VALUES (%s, %s) RETURNING id",
            (chat, Jsonb([{"type": "text", "text": text}])),
        ): expected
        for chat, expected, text in (
            (first, model, "a"),
            (first, model, "b"),
            (second, other_model, "c"),
            *((chat, other_model, kind) for kind, chat in kinds.items()),
            (foreign, other_model, "d"),
        )
    }

    db.through("chat_queued_message_model_config")

    assert db.column("SELECT id, model_config_id FROM chat_queued_messages") == queued


# --- client_type ----------------------------------------------------------------------------------


def test_existing_chats_become_ui_chats_and_new_chats_default_to_api(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_client_type") - 1)
    user, model = ada()
    org = db.org("acme", default=True)
    elsewhere = db.org("elsewhere")
    old = [db.chat(user, model, organization_id=org, updated_at=at(i)) for i in range(3)]
    old += chat_kinds(db, user, model, parent=old[0], organization_id=org).values()
    old.append(db.chat(user, model, organization_id=elsewhere, archived=True))
    before = db.updated_at()

    db.through("chat_client_type")

    assert db.column("SELECT id, client_type::text FROM chats") == {c: "ui" for c in old}
    assert db.updated_at() == before
    new = db.chat(user, model, organization_id=org)
    assert db.one("SELECT client_type::text FROM chats WHERE id = %s", (new,)) == "api"


# --- the chat-access role -------------------------------------------------------------------------


def test_chat_access_is_granted_once_to_every_user_who_ever_created_a_chat(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_access_role") - 1)
    creator, model = ada()
    db.conn.execute("UPDATE users SET rbac_roles = '{member}' WHERE id = %s", (creator,))
    archiver = db.user("archiver")
    already = db.user("already", roles=["owner", "chat-access"])
    bystander = db.user("bystander", roles=["member"])
    sub_agent_only = db.user("delegate")  # its only chat is a sub-agent of someone else's
    departed = db.user("departed")  # a soft-deleted user: it did create a chat
    db.conn.execute("UPDATE users SET deleted = true WHERE id = %s", (departed,))
    root = db.chat(creator, model)
    db.chat(creator, model)
    db.chat(archiver, model, archived=True)
    db.chat(already, model)
    db.chat(sub_agent_only, model, parent_chat_id=root, root_chat_id=root, archived=True)
    db.chat(departed, model)

    db.through("chat_access_role")

    assert db.column("SELECT id, rbac_roles FROM users") == {
        creator: ["member", "chat-access"],
        archiver: ["chat-access"],
        already: ["owner", "chat-access"],
        bystander: ["member"],
        sub_agent_only: ["chat-access"],
        departed: ["chat-access"],
    }


def test_reverting_chat_access_removes_the_role_it_introduced(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_access_role") - 1)
    creator, model = ada()
    db.chat(creator, model)
    db.through("chat_access_role")
    assert db.one("SELECT rbac_roles FROM users WHERE id = %s", (creator,)) == ["chat-access"]

    db.migrator.down(1)

    assert db.one("SELECT rbac_roles FROM users WHERE id = %s", (creator,)) == []


# --- pin order repair ---------------------------------------------------------------------------


def test_pin_order_violations_are_repaired_before_the_constraints_are_added(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_pin_order_constraints") - 1)
    ada_id, model = ada()
    bob = db.user("bob")
    org = db.org("acme", default=True)

    def chat(owner: uuid.UUID, pin: int, minute: int, **columns: Any) -> uuid.UUID:
        return db.chat(
            owner, model, organization_id=org, pin_order=pin, updated_at=at(minute), **columns
        )

    older_dup = chat(ada_id, 2, minute=1)
    newer_dup = chat(ada_id, 2, minute=9)  # same position: the more recently updated goes first
    far = chat(ada_id, 7, minute=5)  # gap 2 -> 7 closes
    unpinned = chat(ada_id, 0, minute=3)
    archived = chat(ada_id, 1, minute=4, archived=True)  # archived chats are never pinned
    child = chat(ada_id, 3, minute=6, parent_chat_id=older_dup, root_chat_id=older_dup)
    negative = chat(ada_id, -4, minute=7)
    bobs_only = chat(bob, 5, minute=8)  # numbering is per owner
    # Same position and same updated_at: the list shows the higher id first (SPEC 4.1).
    ties = sorted((chat(bob, 9, minute=2) for _ in range(3)), reverse=True)
    elsewhere = db.org("elsewhere")  # one owner's pins span its organizations
    bobs_elsewhere = db.chat(bob, model, organization_id=elsewhere, pin_order=10, updated_at=at(0))
    archived_child = chat(
        bob, 2, minute=1, archived=True, parent_chat_id=bobs_only, root_chat_id=bobs_only
    )
    before = db.updated_at()

    db.through("chat_pin_order_constraints")

    assert db.column("SELECT id, pin_order FROM chats") == {
        newer_dup: 1,
        older_dup: 2,
        far: 3,
        unpinned: 0,
        archived: 0,
        child: 0,
        negative: 0,
        bobs_only: 1,
        **{tie: 2 + i for i, tie in enumerate(ties)},
        bobs_elsewhere: 5,
        archived_child: 0,
    }
    assert db.updated_at() == before
    try:
        db.conn.execute("UPDATE chats SET pin_order = 4 WHERE id = %s", (child,))
    except psycopg.Error as exc:
        error = classify(exc)
        assert isinstance(error, CheckViolation)
        assert error.constraint == "chats_pin_order_root_only_check"
    else:
        raise AssertionError("a child chat was pinned")


# --- dynamic tools (down migration rewrites a status) ------------------------------------------


def test_reverting_dynamic_tools_returns_chats_awaiting_tool_results_to_waiting(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.through("chat_dynamic_tools")
    user, model = ada()
    waiting_for_client = db.chat(user, model, status="requires_action", dynamic_tools=Jsonb([]))
    running = db.chat(user, model, status="running")
    pending = db.chat(user, model, status="pending")

    db.migrator.down(1)

    assert db.column("SELECT id, status::text FROM chats") == {
        waiting_for_client: "waiting",
        running: "running",
        pending: "pending",
    }
    assert db.one(
        "SELECT array_agg(enumlabel ORDER BY enumsortorder) FROM pg_enum"
        " WHERE enumtypid = 'chat_status'::regtype"
    ) == ["waiting", "pending", "running", "paused", "completed", "error"]


# --- a populated database survives the whole history both ways -----------------------------------


def test_a_populated_database_goes_down_to_the_first_chat_schema_and_back_up(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.migrator.up()
    user, model = ada()
    org = db.org("acme", default=True)
    db.member(org, user, joined=at(0))
    chat = db.chat(user, model, organization_id=org, labels=Jsonb({"github.repo": "coder/coder"}))
    answer = db.message(chat, "assistant", content_version=1, input_tokens=10, output_tokens=5)
    db.conn.execute(
        "INSERT INTO chat_queued_messages (chat_id, content, model_config_id)"
        " VALUES (%s, '[]', %s)",
        (chat, model),
    )

    db.migrator.down(len(VERSIONS) - version_of("chats"))
    assert db.migrator.current_version() == version_of("chats")
    db.migrator.up()

    # The rows survived every down migration and went through every backfill again.
    assert db.one("SELECT organization_id FROM chats WHERE id = %s", (chat,)) == org
    assert db.one("SELECT client_type::text FROM chats WHERE id = %s", (chat,)) == "ui"
    assert db.one("SELECT last_read_message_id FROM chats WHERE id = %s", (chat,)) == answer
    assert db.one("SELECT role::text || content_version FROM chat_messages") == "assistant0"
    assert db.one("SELECT total_cost_micros FROM chat_messages") is None  # the model has no price
    assert db.one("SELECT model_config_id FROM chat_queued_messages") == model
    assert db.one("SELECT rbac_roles FROM users WHERE id = %s", (user,)) == ["chat-access"]


# --- chat_model_configs.provider -> chat_providers ---------------------------------------------


def orphan_model(db: Db, provider: str) -> uuid.UUID:
    """A model config whose provider has no chat_providers row (the old schema allowed it)."""
    return db.one(  # type: ignore[no-any-return]
        "INSERT INTO chat_model_configs (provider, model, context_limit, compression_threshold)"
        " VALUES (%s, 'orphan', 100000, 70) RETURNING id",
        (provider,),
    )


def test_orphaned_model_configs_get_a_disabled_provider_and_keep_their_chats(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    db.up_to(version_of("chat_model_config_provider_fkey") - 1)
    user, configured = ada()  # anthropic: configured, enabled
    orphans = [orphan_model(db, "google"), orphan_model(db, "google"), orphan_model(db, "vercel")]
    org = db.org("acme", default=True)
    chat = db.chat(user, orphans[0], organization_id=org)
    message = db.message(chat, "user", content_version=1, model_config_id=orphans[0])

    db.through("chat_model_config_provider_fkey")

    providers = db.conn.execute(
        "SELECT provider, enabled, api_key, api_key_key_id FROM chat_providers ORDER BY provider"
    ).fetchall()
    assert providers == [
        ("anthropic", True, "", None),
        ("google", False, "", None),
        ("vercel", False, "", None),
    ]
    kept = db.column("SELECT id, provider FROM chat_model_configs")
    assert set(kept) == {configured, *orphans}
    assert db.one("SELECT last_model_config_id FROM chats WHERE id = %s", (chat,)) == orphans[0]
    assert (
        db.one("SELECT model_config_id FROM chat_messages WHERE id = %s", (message,))
        == (orphans[0])
    )
    assert db.updated_at() == {chat: at(0)}
    # From now on the key holds: a model config needs its provider.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        orphan_model(db, "openai")


def test_a_model_config_naming_an_unknown_provider_stops_the_provider_migration(
    db: Db, ada: Callable[[], tuple[uuid.UUID, uuid.UUID]]
) -> None:
    previous = version_of("chat_model_config_provider_fkey") - 1
    db.up_to(previous)
    ada()
    orphan_model(db, "acme-llm")
    with pytest.raises(MigrationError, match=r"unknown providers: acme-llm"):
        db.through("chat_model_config_provider_fkey")
    assert db.migrator.current_version() == previous
    assert db.one("SELECT count(*) FROM chat_providers") == 1
