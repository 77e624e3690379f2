"""The per-method authorization cases: how to call every querier method, and what it checks.

``CASES`` has one entry per method of the ``Queries`` Protocol (the accounting test fails
when one is missing). An entry either prepares rows with the factories and returns the call's
keyword arguments (and, where the policy alone cannot say, the exact checks), or relies on the
generic fallback: arguments derived from the parameter names and types, and the checks
derived from the method's ``-- authz:`` policy by :func:`policy_checks`.

Arguments are chosen so that the *allowed* call succeeds and, for a statement that writes,
really changes the database: that is what makes "a refused call writes nothing" meaningful.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache, cached_property
from graphlib import TopologicalSorter
from importlib import import_module
from pathlib import Path
from typing import Any, Literal, NamedTuple
from uuid import UUID, uuid4

import psycopg
from pglast.parser import parse_sql_json
from psycopg import sql

from chatdb import db
from chatdb.authz import Action, Check, Object, ResourceType, Subject
from chatdb.authz.wrapper import POLICIES
from chatdb.db import QUERIES, Querier
from chatdb.testing.factories import Factories

A = Action
T = ResourceType

# Rows are created "long ago" so that a statement setting updated_at = now() is visible.
T_OLD = datetime(2024, 6, 1, tzinfo=UTC)
# The generic value of a timestamp parameter.
T0 = datetime(2025, 1, 1, tzinfo=UTC)

# The actor of the recorded calls; a RecordingAuthorizer without an inner one allows anyone.
ACTOR = Subject(id=UUID("7e570000-0000-4000-8000-000000000001"), name="tester")

_seq = itertools.count(1)


class Call(NamedTuple):
    """The keyword arguments of one call; ``checks=None`` means "derived from the policy".

    ``after``: checks the wrapper makes once the query has run, after the policy's: whether the
    actor may read the secrets in the returned rows (issue 8 item 4), once per secret owner.
    """

    kwargs: dict[str, Any]
    checks: list[Check] | None = None
    after: tuple[Check, ...] = ()


def read_secret(owner_id: UUID | None = None) -> Check:
    """The check before a non-empty secret is returned in clear (None: the deployment's)."""
    return Check(Action.READ, Object.secret(owner_id))


Prepare = Callable[["World", str], Call]


@dataclass(frozen=True)
class Case:
    """How to exercise one method; ``prepare=None`` is the generic fallback."""

    prepare: Prepare | None = None


# --------------------------------------------------------------------------- the world


class World:
    """The rows a case needs, created on first use over the test's connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.f = Factories(conn)
        self.q = Querier(conn)

    @cached_property
    def org(self) -> db.Organization:
        return self.f.organization()

    @cached_property
    def owner(self) -> db.User:
        return self.f.user(organization_id=self.org.id)

    @cached_property
    def model(self) -> db.ChatModelConfig:
        return self.f.chat_model_config()

    @cached_property
    def chat(self) -> db.Chat:
        return self.new_chat()

    @cached_property
    def file(self) -> db.ChatFile:
        return self.f.chat_file(owner_id=self.owner.id, organization_id=self.org.id)

    @cached_property
    def message(self) -> db.ChatMessage:
        return self.f.chat_message(chat_id=self.chat.id, role="user")

    @cached_property
    def group(self) -> db.Group:
        return self.f.group(organization_id=self.org.id)

    @cached_property
    def mcp(self) -> db.McpServerConfig:
        return self.f.mcp_server_config()

    def new_chat(self, **kw: Any) -> db.Chat:
        """A chat of the world's owner, organization and model unless told otherwise."""
        values: dict[str, Any] = {
            "owner_id": self.owner.id,
            "organization_id": self.org.id,
            "last_model_config_id": self.model.id,
            "updated_at": T_OLD,
        }
        values.update(kw)
        return self.f.chat(**values)

    def stranger_chat(self, **kw: Any) -> db.Chat:
        """A chat of another user in another organization."""
        org = self.f.organization()
        owner = self.f.user(organization_id=org.id)
        return self.new_chat(owner_id=owner.id, organization_id=org.id, **kw)

    def colleague_chat(self, **kw: Any) -> db.Chat:
        """A chat of another user in the world's organization (a workspace binding stays in
        its organization, so a chat bound to the world's workspace is at most a colleague's)."""
        owner = self.f.user(organization_id=self.org.id)
        return self.new_chat(owner_id=owner.id, **kw)

    def chat_object(self, chat_id: UUID) -> Object:
        """The authorization object of a chat, read straight from the table."""
        row = self.conn.execute(
            "SELECT owner_id, organization_id FROM chats WHERE id = %s", (chat_id,)
        ).fetchone()
        assert row is not None, f"no chat {chat_id}"
        return Object.chat(chat_id, row[0], row[1])

    def workspace_object(self, workspace_id: UUID) -> Object:
        """The authorization object of a workspace, read straight from the table."""
        row = self.conn.execute(
            "SELECT owner_id, organization_id FROM workspaces WHERE id = %s", (workspace_id,)
        ).fetchone()
        assert row is not None, f"no workspace {workspace_id}"
        return Object.workspace(workspace_id, row[0], row[1])

    def generic(self, method: str, **overrides: Any) -> dict[str, Any]:
        """Arguments for ``method`` from parameter names and types, then ``overrides``.

        Overrides of parameters the method lacks are ignored, so one prepare function can
        serve several methods.
        """
        return {
            name: overrides[name] if name in overrides else generic_value(self, name, annotation)
            for name, annotation in parameters(method).items()
        }


# --------------------------------------------------------------------------- generic values

_UUID_BY_NAME: dict[str, Callable[[World], UUID]] = {
    "id": lambda w: w.chat.id,
    "chat_id": lambda w: w.chat.id,
    "owner_id": lambda w: w.owner.id,
    "user_id": lambda w: w.owner.id,
    "organization_id": lambda w: w.org.id,
    "model_config_id": lambda w: w.model.id,
    "last_model_config_id": lambda w: w.model.id,
    "file_id": lambda w: w.file.id,
    "group_id": lambda w: w.group.id,
    "mcp_server_config_id": lambda w: w.mcp.id,
}
_INT_BY_NAME = {"offset": 0, "limit": 10, "max_links": 10, "num_chats": 10}
_STR_BY_NAME = {"period": "week"}


def parameters(method: str) -> dict[str, str]:
    """The querier method's keyword parameters and their annotations (as written)."""
    signature = inspect.signature(getattr(Querier, method))
    return {
        name: str(p.annotation)
        for name, p in signature.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def generic_value(world: World, name: str, annotation: str) -> Any:
    """A valid value for a parameter; optional parameters are None unless named above."""
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    if base == "UUID" and name in _UUID_BY_NAME:
        return _UUID_BY_NAME[name](world)
    if optional:
        return None
    if base.startswith(("Sequence[", "list[")):
        return []
    if base == "UUID":
        return uuid4()
    if base == "datetime":
        return T0
    if base == "timedelta":
        return timedelta(hours=1)
    if base == "bool":
        return True
    if base == "int":
        return _INT_BY_NAME.get(name, 1)
    if base == "str":
        return _STR_BY_NAME.get(name, f"{name}-{next(_seq)}")
    if base == "bytes":
        return b"data"
    if base == "JSON":
        return [{"type": "text", "text": "hello"}] if name == "content" else {"key": "value"}
    enum = getattr(db, base, None)
    if isinstance(enum, type) and issubclass(enum, Enum):
        return next(iter(enum))
    raise TypeError(f"no generic value for {name}: {annotation}; give the method a case")


# --------------------------------------------------------------------------- policy → checks

_TERMS: list[tuple[str, re.Pattern[str]]] = [
    ("any_actor", re.compile(r"any_actor")),
    ("custom", re.compile(r"custom\b.*")),
    ("rows", re.compile(r"(?P<term>fetch|post_filter|sql_filter) (?P<action>\w+) (?P<type>\w+)")),
    ("system", re.compile(r"system (?P<action>\w+) (?P<type>\w+)")),
    ("deployment_config", re.compile(r"deployment_config (?P<action>\w+)")),
    ("personal", re.compile(r"personal (?P<action>read|update) user\((?P<param>\w+)\)")),
    ("is_actor", re.compile(r"is_actor(?:\[\])?\((?P<param>\w+)\)")),
    ("load_many", re.compile(r"(?P<action>\w+) (?P<type>\w+)\[\]\((?P<param>\w+)\)")),
    ("load", re.compile(r"(?P<action>\w+) (?P<type>\w+)\((?P<param>\w+)\)")),
    (
        "build",
        re.compile(r"(?P<action>\w+) (?P<type>\w+)\(owner=(?P<owner>\w+)(?:, org=(?P<org>\w+))?\)"),
    ),
]


Term = tuple[str, dict[str, str]]


def _parse_term(method: str, text: str) -> Term:
    for kind, pattern in _TERMS:
        if m := pattern.fullmatch(text):
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            if kind == "rows":
                kind = groups.pop("term")
            return kind, groups
    raise AssertionError(f"{method}: policy {text!r} is not in the SPEC's policy language")


_WAIVER = re.compile(r'\s+and\s+waive\(\w+:\s*"[^"]*"\)')


def conjuncts(method: str) -> list[str]:
    """The method's policy as the checks it makes in order (``<check> and <check>``).

    A waiver (``and waive(<param>: "<reason>")``) checks nothing: it is dropped first.
    """
    return _WAIVER.sub("", POLICIES[method]).split(" and ")


def alternatives(method: str) -> list[Term]:
    """The method's (first) check as its alternatives (``<check> or <check>``), each parsed."""
    return [_parse_term(method, text) for text in conjuncts(method)[0].split(" or ")]


def policy_term(method: str) -> Term:
    """The kind of the method's (first) policy term and its parts."""
    return alternatives(method)[0]


Refusal = Literal["raises", "filters", "never"]


def refusal(method: str) -> Refusal:
    """What a refused check does: raise, drop the rows, or nothing (any actor passes)."""
    kind, _ = policy_term(method)
    if kind in ("post_filter", "sql_filter"):
        return "filters"
    if kind == "any_actor":
        return "never"
    return "raises"


def policy_checks(world: World, method: str, kwargs: dict[str, Any]) -> list[Check]:
    """The checks SPEC section 8 says an allowed call performs, in order, for these arguments.

    With alternatives, the first one admits an allowed call: the others are never consulted.
    """
    checks = _term_checks(world, method, policy_term(method), kwargs)
    for text in conjuncts(method)[1:]:
        checks += _term_checks(world, method, _parse_term(method, text), kwargs)
    return checks


def refused_checks(world: World, method: str, call: Call) -> list[Check]:
    """The checks a call makes when every check is refused: it stops at the first refusal,
    after trying each alternative; a filter still checks every row."""
    assert call.checks is not None
    outcome = refusal(method)
    if outcome == "filters":
        return call.checks
    if outcome == "never":
        return []
    alts = alternatives(method)
    if len(alts) == 1:
        return call.checks[:1]
    return [_term_checks(world, method, alt, call.kwargs)[0] for alt in alts]


def _term_checks(world: World, method: str, term: Term, kwargs: dict[str, Any]) -> list[Check]:
    kind, p = term
    action = Action(p["action"]) if "action" in p else None
    if kind in ("any_actor", "is_actor"):
        return []  # is_actor compares ids; it asks the authorizer nothing
    if kind == "load" and kwargs[p["param"]] is None:
        return []  # a NULL id names nothing: nothing to check
    if kind == "system":
        assert action is not None
        return [Check(action, Object.system(T(p["type"])), "system")]
    if kind == "sql_filter":
        assert action is not None
        return [Check(action, Object.system(T(p["type"])), "filter")]
    if kind == "deployment_config":
        assert action is not None
        return [Check(action, Object.deployment_config())]
    if kind == "personal":
        personal = A.READ_PERSONAL if p["action"] == "read" else A.UPDATE_PERSONAL
        return [Check(personal, Object.user(kwargs[p["param"]]))]
    if kind == "fetch" and p["type"] == "chat":
        assert action is not None
        return [Check(action, world.chat_object(kwargs["id"]))]
    if kind == "load" and p["type"] == "chat":
        assert action is not None
        return [Check(action, world.chat_object(kwargs[p["param"]]))]
    if kind == "load" and p["type"] == "workspace":
        assert action is not None
        return [Check(action, world.workspace_object(kwargs[p["param"]]))]
    if kind == "load_many" and p["type"] == "chat":
        assert action is not None
        ids: Iterable[UUID | None] = kwargs[p["param"]]
        return [Check(action, world.chat_object(i)) for i in ids if i is not None]
    if kind == "load_many" and p["type"] == "chat_file":
        assert action is not None
        return [
            Check(action, Object.chat_file(i, world.owner.id, world.org.id))
            for i in kwargs[p["param"]]
            if i is not None
        ]
    if kind == "build":
        assert action is not None
        org = kwargs[p["org"]] if "org" in p else None
        return [Check(action, Object(T(p["type"]), None, kwargs[p["owner"]], org))]
    raise AssertionError(f"{method}: give its case the expected checks ({POLICIES[method]!r})")


# --------------------------------------------------------------------------- statements

_WRITE_NODES = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})


def _has_write(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k in _WRITE_NODES or _has_write(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_write(v) for v in node)
    return False


@cache
def writes(method: str) -> bool:
    """Whether the method's statement modifies data (read from PostgreSQL's own parse tree)."""
    info = next(q for q in QUERIES.values() if q.method == method)
    module = import_module(f"chatdb.db.{Path(info.source).stem}")
    text: str = getattr(module, method.upper())
    return _has_write(json.loads(parse_sql_json(text)))


def user_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The application's tables (everything but the migration bookkeeping)."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations' ORDER BY tablename"
    ).fetchall()
    return [r[0] for r in rows]


def fingerprint(conn: psycopg.Connection[Any]) -> list[str]:
    """A digest of every application table's contents, in table order."""
    digests = sql.SQL(", ").join(
        sql.SQL(
            "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t)"
        ).format(sql.Identifier(table))
        for table in user_tables(conn)
    )
    row = conn.execute(sql.SQL("SELECT ARRAY[{}]").format(digests)).fetchone()
    assert row is not None
    digest: list[str] = row[0]
    return digest


def empty_tables(conn: psycopg.Connection[Any]) -> None:
    """Delete every row but the migrations' seed, referencing tables first (DELETE on tiny
    tables is much faster than TRUNCATE)."""
    order = TopologicalSorter[str]({t: set() for t in user_tables(conn)})
    for referencing, referenced in conn.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid <> confrelid"
    ):
        order.add(referenced, referencing)
    kept = {"chat_usage_limit_config", "schema_migrations"}  # the singleton row is seeded
    conn.execute(
        sql.SQL("; ").join(
            sql.SQL("DELETE FROM {}").format(sql.Identifier(t))
            for t in order.static_order()
            if t not in kept
        )
    )


# --------------------------------------------------------------------------- the cases

CASES: dict[str, Case] = {}


def case(*methods: str) -> Callable[[Prepare], Prepare]:
    """Register ``prepare`` as the case of ``methods`` (each method has exactly one case)."""

    def register(prepare: Prepare) -> Prepare:
        for method in methods:
            assert method not in CASES, f"{method} has two cases"
            CASES[method] = Case(prepare)
        return prepare

    return register


def generic(*methods: str) -> None:
    """These methods are exercised by the generic fallback alone."""
    for method in methods:
        assert method not in CASES, f"{method} has two cases"
        CASES[method] = Case()


def prepare_call(world: World, method: str) -> Call:
    """The call of ``method``'s case, with its expected checks filled in."""
    entry = CASES[method]
    call = entry.prepare(world, method) if entry.prepare else Call(world.generic(method))
    if call.checks is None:
        call = call._replace(checks=policy_checks(world, method, call.kwargs) + list(call.after))
    return call


# -- authz lookups, files

generic(
    "get_authz_subject_by_user_id",
    "is_organization_member",
    "get_chat_file_metadata_by_chat_id",
    "insert_chat_file",
)


@case("get_workspace_owner_by_id")
def _workspace_owner(w: World, m: str) -> Call:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    return Call(w.generic(m, id=ws.id))


@case("get_chat_file_owner_by_id")
def _file_owner(w: World, m: str) -> Call:
    return Call(w.generic(m, id=w.file.id))


@case("get_chat_ids_by_file_id", "link_chat_files")
def _linked_file(w: World, m: str) -> Call:
    w.f.chat_file_link(chat_id=w.new_chat().id, file_id=w.file.id)
    if m == "link_chat_files":
        return Call(w.generic(m, file_ids=[w.file.id]))
    return Call(w.generic(m))


@case("get_chat_file_metadata_by_ids")
def _files_by_ids(w: World, m: str) -> Call:
    older = w.f.chat_file(owner_id=w.owner.id, organization_id=w.org.id, created_at=T_OLD)
    org = w.f.organization()
    stranger = w.f.user(organization_id=org.id)
    newer = w.f.chat_file(owner_id=stranger.id, organization_id=org.id, created_at=T0)
    # Oldest first: one read check per row, in row order; an unknown id yields no row.
    checks = [
        Check(A.READ, Object.chat_file(older.id, w.owner.id, w.org.id)),
        Check(A.READ, Object.chat_file(newer.id, stranger.id, org.id)),
    ]
    return Call({"ids": [newer.id, older.id, uuid4()]}, checks)


@case("get_chat_file_by_id")
def _file_by_id(w: World, m: str) -> Call:
    file = w.file
    return Call({"id": file.id}, [Check(A.READ, Object.chat_file(file.id, w.owner.id, w.org.id))])


@case("delete_old_chat_files")
def _old_file(w: World, m: str) -> Call:
    before = datetime.now(UTC) + timedelta(days=1)
    assert w.file.created_at < before  # unlinked and older than before_time: purged
    return Call(w.generic(m, before_time=before))


# -- costs, usage limits

generic(
    "get_chat_cost_summary",
    "get_chat_cost_per_model",
    "get_chat_cost_per_chat",
    "get_chat_cost_per_user",
    "get_chat_usage_limit_config",
    "upsert_chat_usage_limit_config",
    "list_chat_usage_limit_overrides",
    "upsert_chat_usage_limit_user_override",
    "list_chat_usage_limit_group_overrides",
    "upsert_chat_usage_limit_group_override",
    "get_user_group_spend_limit",
    "resolve_user_chat_spend_limit",
    "get_user_chat_spend_in_period",
)


@case("get_chat_usage_limit_user_override", "delete_chat_usage_limit_user_override")
def _user_limit(w: World, m: str) -> Call:
    w.q.upsert_chat_usage_limit_user_override(spend_limit_micros=5_000, user_id=w.owner.id)
    return Call(w.generic(m))


@case("get_chat_usage_limit_group_override", "delete_chat_usage_limit_group_override")
def _group_limit(w: World, m: str) -> Call:
    w.q.upsert_chat_usage_limit_group_override(spend_limit_micros=5_000, group_id=w.group.id)
    return Call(w.generic(m))


# -- diff statuses

generic("upsert_chat_diff_status_reference", "upsert_chat_diff_status")


@case("get_chat_diff_status_by_chat_id", "mark_chat_diff_status_stale", "backoff_chat_diff_status")
def _diff_status(w: World, m: str) -> Call:
    w.f.chat_diff_status(chat_id=w.chat.id)
    return Call(w.generic(m))


@case("get_chat_diff_statuses_by_chat_ids")
def _diff_statuses(w: World, m: str) -> Call:
    mine, theirs = w.chat, w.stranger_chat()
    for chat in (mine, theirs):
        w.f.chat_diff_status(chat_id=chat.id)
    # Checked in argument order; a NULL element names no chat and is skipped.
    return Call(
        {"chat_ids": [theirs.id, None, mine.id]},
        [Check(A.READ, w.chat_object(theirs.id)), Check(A.READ, w.chat_object(mine.id))],
    )


@case("acquire_stale_chat_diff_statuses")
def _due_diff_status(w: World, m: str) -> Call:
    w.f.chat_diff_status(
        chat_id=w.chat.id, git_branch="main", git_remote_origin="origin", stale_at=T_OLD
    )
    return Call(w.generic(m))


# -- messages

generic(
    "get_chat_messages_by_chat_id",
    "get_chat_messages_by_chat_id_desc_paginated",
    "get_chat_messages_for_prompt_by_chat_id",
    "get_chat_user_prompts_by_chat_id",
)


@case("insert_chat_messages")
def _new_messages(w: World, m: str) -> Call:
    arrays: dict[str, list[Any]] = {
        name: [None] for name, ann in parameters(m).items() if ann.startswith("Sequence[")
    }
    arrays.update(
        created_by=[ACTOR.id],  # is_actor[](created_by): a message is written by its actor
        model_config_id=[w.model.id],
        role=[db.ChatMessageRole.USER],
        content=[[{"type": "text", "text": "hello"}]],
        content_version=[1],
    )
    return Call({**arrays, "chat_id": w.chat.id})


@case("get_last_chat_message_by_role", "soft_delete_chat_messages_after_id")
def _user_message(w: World, m: str) -> Call:
    assert w.message.role is db.ChatMessageRole.USER
    return Call(w.generic(m, role=db.ChatMessageRole.USER, after_id=0))


@case("get_chat_message_by_id", "soft_delete_chat_message_by_id")
def _message_by_id(w: World, m: str) -> Call:
    action = A.READ if m == "get_chat_message_by_id" else A.UPDATE
    return Call({"id": w.message.id}, [Check(action, w.chat_object(w.chat.id))])


@case("soft_delete_context_file_messages", "get_chat_context_file_messages")
def _context_file(w: World, m: str) -> Call:
    content = [{"type": "context-file", "path": "AGENTS.md"}]
    w.f.chat_message(chat_id=w.chat.id, role="user", content=content)
    return Call(w.generic(m))


@case("get_latest_workspace_agent_for_chat")
def _latest_agent(w: World, m: str) -> Call:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    build = w.f.workspace_build(workspace_id=ws.id, build_number=1)
    w.f.workspace_agent(build_id=build.id)
    return Call({"chat_id": w.new_chat(workspace_id=ws.id).id})


@case("update_user_site_roles")
def _grant_chat_access(w: World, m: str) -> Call:
    # The same roles, reordered: only the policy's check on the user runs (which roles an
    # actor may assign is tested by tests/authz/test_role_assignment.py).
    target = w.f.user(organization_id=w.org.id, rbac_roles=["chat-access", "auditor"])
    return Call(
        {"user_id": target.id, "rbac_roles": ["auditor", "chat-access"]},  # reordered: a write
        [Check(A.UPDATE, Object.user(target.id))],
    )


# -- queued messages

generic(
    "insert_chat_queued_message",
    "get_chat_queued_messages",
    "quarantine_chat_queued_message",
    "get_chat_quarantined_queued_messages",
)


@case("delete_chat_queued_message", "delete_all_chat_queued_messages", "pop_next_queued_message")
def _queued(w: World, m: str) -> Call:
    queued = w.f.chat_queued_message(chat_id=w.chat.id)
    if m == "delete_chat_queued_message":
        return Call(w.generic(m, id=queued.id))
    return Call(w.generic(m))


# -- model configs, providers

generic(
    "get_chat_model_configs",
    "get_enabled_chat_model_configs",
    "count_enabled_models_without_pricing",
    "get_chat_providers",
    "get_enabled_chat_providers",
)


@case("get_chat_model_config_by_id", "update_chat_model_config", "delete_chat_model_config_by_id")
def _model_by_id(w: World, m: str) -> Call:
    return Call(w.generic(m, id=w.model.id, provider=w.model.provider))


@case("get_default_chat_model_config", "unset_default_chat_model_configs")
def _default_model(w: World, m: str) -> Call:
    w.f.chat_model_config(is_default=True)
    return Call(w.generic(m))


@case(
    "get_chat_provider_by_id",
    "get_chat_provider_by_provider",
    "update_chat_provider",
    "delete_chat_provider_by_id",
)
def _provider(w: World, m: str) -> Call:
    provider = w.f.chat_provider(provider="openai")
    return Call(w.generic(m, id=provider.id, provider="openai"))


@case("insert_chat_model_config")
def _new_model(w: World, m: str) -> Call:
    w.f.chat_provider(provider="anthropic")  # a model config belongs to a configured provider
    return Call(w.generic(m, provider="anthropic"))


@case("insert_chat_provider")
def _new_provider(w: World, m: str) -> Call:
    return Call(w.generic(m, provider="anthropic"), after=(read_secret(),))


# -- settings

generic(
    "list_user_chat_compaction_thresholds",
    "update_user_chat_compaction_threshold",
    "get_user_chat_custom_prompt",
    "update_user_chat_custom_prompt",
    "get_chat_system_prompt",
    "get_chat_system_prompt_settings",
    "get_chat_start_settings",
    "upsert_chat_system_prompt",
    "get_chat_include_default_system_prompt",
    "upsert_chat_include_default_system_prompt",
    "get_chat_desktop_enabled",
    "upsert_chat_desktop_enabled",
    "get_chat_template_allowlist",
    "upsert_chat_template_allowlist",
    "get_chat_workspace_ttl",
    "upsert_chat_workspace_ttl",
    "get_chat_retention_days",
    "upsert_chat_retention_days",
)


@case("get_user_chat_compaction_threshold", "delete_user_chat_compaction_threshold")
def _threshold(w: World, m: str) -> Call:
    w.q.update_user_chat_compaction_threshold(
        user_id=w.owner.id, threshold_percent=50, model_config_id=w.model.id
    )
    return Call(w.generic(m))


# -- telemetry, retention

generic(
    "get_chats_updated_after",
    "get_chat_message_summaries_per_chat",
    "get_chat_model_configs_for_telemetry",
    "get_chat_diff_status_summary",
)


@case("delete_old_chats")
def _archived_long_ago(w: World, m: str) -> Call:
    w.new_chat(archived=True)
    return Call(w.generic(m, before_time=datetime.now(UTC)))


# -- workers

generic("get_stale_chats")


@case("acquire_chats")
def _pending(w: World, m: str) -> Call:
    w.new_chat(status="pending")
    return Call(w.generic(m, started_at=T0))


@case("update_chat_heartbeats")
def _running(w: World, m: str) -> Call:
    worker = uuid4()
    w.new_chat(status="running", worker_id=worker, started_at=T_OLD, heartbeat_at=T_OLD)
    return Call(w.generic(m, now=T0, worker_id=worker))


@case("get_chat_lease_for_update")
def _leased(w: World, m: str) -> Call:
    # A lease exists only while its chat runs: start the world's chat on some worker.
    w.q.update_chat_status(
        id=w.chat.id,
        status=db.ChatStatus.RUNNING,
        worker_id=uuid4(),
        started_at=T_OLD,
        heartbeat_at=T_OLD,
        last_error=None,
    )
    return Call(w.generic(m))


# -- chats

generic(
    "insert_chat",
    "get_chat_by_id",
    "get_chat_by_id_for_update",
    "update_chat_by_id",
    "update_chat_title_by_id",
    "update_chat_status",
    "update_chat_status_preserve_updated_at",
    "update_chat_workspace_binding",
    "update_chat_build_agent_binding",
    "update_chat_mcp_server_ids",
    "archive_chat_by_id",
    "pin_chat_by_id",
    "lock_chat_owner_pins",
    "get_chat_family_ids_by_root_id",
)


def _read_each(w: World, chats: Iterable[db.Chat]) -> list[Check]:
    return [Check(A.READ, w.chat_object(c.id)) for c in chats]


@case("get_chats")
def _chat_list(w: World, m: str) -> Call:
    w.new_chat()
    w.stranger_chat()
    return Call(w.generic(m, owner_id=None))


@case("get_child_chats_by_parent_ids")
def _children(w: World, m: str) -> Call:
    root, theirs = w.chat, w.stranger_chat()
    older = w.new_chat(parent_chat_id=root.id, root_chat_id=root.id, created_at=T_OLD)
    # A child has its parent's owner and organization: the stranger's child of its own root.
    newer = w.new_chat(
        owner_id=theirs.owner_id,
        organization_id=theirs.organization_id,
        parent_chat_id=theirs.id,
        root_chat_id=theirs.id,
        created_at=T0,
    )
    # Newest first: one read check per row, in row order.
    return Call(
        {"parent_ids": [root.id, theirs.id], "archived": None}, _read_each(w, [newer, older])
    )


@case("get_chats_by_workspace_ids")
def _workspace_chats(w: World, m: str) -> Call:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    older = w.new_chat(workspace_id=ws.id, updated_at=T_OLD)
    newer = w.colleague_chat(workspace_id=ws.id, updated_at=T0)
    return Call({"ids": [ws.id]}, _read_each(w, [newer, older]))


@case("get_latest_chat_ids_by_workspace_ids")
def _latest_per_workspace(w: World, m: str) -> Call:
    latest: list[tuple[UUID, db.Chat]] = []
    for _ in range(2):
        ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
        w.new_chat(workspace_id=ws.id, updated_at=T_OLD)
        latest.append((ws.id, w.colleague_chat(workspace_id=ws.id, updated_at=T0)))
    latest.sort(key=lambda pair: pair[0])  # one row per workspace, by workspace id
    return Call(
        {"workspace_ids": [ws_id for ws_id, _ in latest]}, _read_each(w, [c for _, c in latest])
    )


@case("get_active_chats_by_agent_id")
def _agent_chats(w: World, m: str) -> Call:
    agent = w.f.workspace_agent()
    older = w.new_chat(agent_id=agent.id, updated_at=T_OLD)
    newer = w.stranger_chat(agent_id=agent.id, updated_at=T0)
    return Call({"agent_id": agent.id}, _read_each(w, [newer, older]))


@case("update_chat_last_model_config_by_id")
def _other_model(w: World, m: str) -> Call:
    return Call(w.generic(m, last_model_config_id=w.f.chat_model_config().id))


_CHAT_SETTINGS: dict[str, dict[str, Any]] = {
    "update_chat_plan_mode_by_id": {"plan_mode": db.ChatPlanMode.PLAN},
    "update_chat_last_injected_context": {"last_injected_context": {"files": []}},
    "update_chat_last_read_message_id": {"last_read_message_id": 5},
}


@case(*_CHAT_SETTINGS)
def _chat_setting(w: World, m: str) -> Call:
    return Call(w.generic(m, **_CHAT_SETTINGS[m]))


@case("unarchive_chat_by_id")
def _archived(w: World, m: str) -> Call:
    return Call(w.generic(m, id=w.new_chat(archived=True).id))


@case("unpin_chat_by_id", "update_chat_pin_order")
def _pinned(w: World, m: str) -> Call:
    first = w.new_chat(pin_order=1)
    w.new_chat(pin_order=2)
    return Call(w.generic(m, id=first.id, pin_order=2))


# -- MCP servers

generic(
    "get_mcp_server_configs",
    "get_enabled_mcp_server_configs",
    "get_forced_mcp_server_configs",
    "get_mcp_server_user_tokens_by_user_id",
)


@case("upsert_mcp_server_user_token")
def _new_token(w: World, m: str) -> Call:
    return Call(w.generic(m), after=(read_secret(w.owner.id),))


def _mcp_fields(w: World, m: str, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    valid = {
        "slug": f"mcp-new-{n}",
        "url": f"https://mcp-new-{n}.example.com",
        "transport": "streamable_http",
        "auth_type": "none",
        "availability": "default_off",
    }
    return w.generic(m, **valid, **overrides)


@case(
    "get_mcp_server_config_by_id",
    "get_mcp_server_config_by_slug",
    "get_mcp_server_configs_by_ids",
    "delete_mcp_server_config_by_id",
)
def _mcp_config(w: World, m: str) -> Call:
    # A server's custom_headers default to '{}', a non-empty secret.
    after = () if m.startswith("delete") else (read_secret(),)
    return Call(w.generic(m, id=w.mcp.id, slug=w.mcp.slug, ids=[w.mcp.id]), after=after)


@case("insert_mcp_server_config", "update_mcp_server_config")
def _mcp_write(w: World, m: str) -> Call:
    kwargs = _mcp_fields(w, m, id=w.mcp.id) if m.startswith("update") else _mcp_fields(w, m)
    return Call(kwargs, after=(read_secret(),))


@case("get_mcp_server_user_token", "delete_mcp_server_user_token")
def _mcp_token(w: World, m: str) -> Call:
    w.q.upsert_mcp_server_user_token(
        mcp_server_config_id=w.mcp.id,
        user_id=w.owner.id,
        access_token="token",
        access_token_key_id=None,
        refresh_token="",
        refresh_token_key_id=None,
        token_type="Bearer",
        expiry=None,
    )
    after = () if m.startswith("delete") else (read_secret(w.owner.id),)
    return Call(w.generic(m), after=after)


@case("cleanup_deleted_mcp_server_ids_from_chats")
def _chat_with_deleted_server(w: World, m: str) -> Call:
    w.new_chat(mcp_server_ids=[w.mcp.id, uuid4()])
    return Call({})


# -- chat operations (the lookups the workflows make)

generic("is_chat_model_config_usable")


@case("get_workspace_for_chat_binding")
def _workspace_to_bind(w: World, m: str) -> Call:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    return Call(w.generic(m, workspace_id=ws.id))
