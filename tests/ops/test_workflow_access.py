"""Every workflow of ``chatdb.ops``, run by every kind of subject, against the hand-written table.

``expected_workflow_access.EXPECTED_WORKFLOWS`` says who may run what on whose chat. Each
workflow's rows are committed once; then every subject runs it through ``Chats`` (actor
passed explicitly) and through ``AsyncChats`` (actor from ``as_actor``, or explicit where
the workflow demands it), each run inside an outer transaction that is rolled back, so
every subject finds the same rows. The subjects that got through must be exactly the
table's, and a refused run must leave every table as it was.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql

from chatdb import ops
from chatdb.authz import as_actor
from chatdb.db import Querier
from chatdb.errors import NotAuthorized
from chatdb.ops import AsyncChats, Chats, McpServers, ProviderConfig, ToolResult
from chatdb.ops._base import Workflows
from chatdb.store import Store
from codegen.pgserver import PgServer
from tests.authz.expected_access import SUBJECTS
from tests.authz.method_cases import T_OLD, empty_tables, user_tables
from tests.authz.people import People
from tests.ops.expected_workflow_access import EXPECTED_WORKFLOWS, FILTERED_WORKFLOWS

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
FILE = {"name": "notes.txt", "mimetype": "text/plain", "data": b"hello"}


@dataclass
class Run:
    """One workflow call: ``<service>.<method>`` and its arguments."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    service: str = "Chats"  # or "ProviderConfig", "McpServers"


def _chat(w: People, **kw: Any) -> UUID:
    return w.new_chat(**kw).id


def _tool_call_pending(w: People) -> Run:
    chat = _chat(w, status="requires_action", dynamic_tools=[{"name": "lookup"}])
    w.f.chat_message(
        chat_id=chat,
        role="assistant",
        content=[{"type": "tool-call", "tool_call_id": "c1", "tool_name": "lookup"}],
    )
    return Run("submit_tool_results", (chat, [ToolResult("c1", "ok")]))


def _queued(method: str) -> Callable[[People], Run]:
    def setup(w: People) -> Run:
        chat = _chat(w, status="waiting")
        w.f.chat_queued_message(chat_id=chat)
        return Run(method, (chat,))

    return setup


def _edit(w: People) -> Run:
    chat = _chat(w, status="waiting")
    message = w.f.chat_message(chat_id=chat, role="user", created_by=w.owner.id)
    return Run("edit_message", (message.id, "edited"))


def _reorder(w: People) -> Run:
    first = _chat(w, pin_order=1)
    _chat(w, pin_order=2)
    return Run("reorder_pin", (first, 2))


def _mark_read(w: People) -> Run:
    chat = _chat(w)
    w.f.chat_message(chat_id=chat, role="assistant")
    return Run("mark_read", (chat,))


def _rebind(w: People) -> Run:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    build = w.f.workspace_build(workspace_id=ws.id, build_number=1)
    w.f.workspace_agent(build_id=build.id)
    return Run("refresh_workspace_binding", (_chat(w, workspace_id=ws.id),))


def _heartbeat(w: People) -> Run:
    worker = uuid4()
    _chat(w, status="running", worker_id=worker, started_at=T_OLD, heartbeat_at=T_OLD)
    return Run("heartbeat", (worker,))


def _listing(w: People) -> Run:
    _chat(w)
    return Run("list_chats", kwargs={"limit": 10})


def _acquire(w: People) -> Run:
    _chat(w, status="pending")
    return Run("acquire_chats", (uuid4(),), {"num_chats": 10})


def _recover(w: People) -> Run:
    _chat(w, status="running", started_at=LONG_AGO, heartbeat_at=LONG_AGO)
    return Run("recover_stale_chats", (datetime.now(UTC) - timedelta(minutes=1),))


def _purge(method: str) -> Callable[[People], Run]:
    """An archived chat, archived long before the cutoff and the retention period."""

    def setup(w: People) -> Run:
        _chat(w, archived=True, updated_at=LONG_AGO)
        args = (datetime.now(UTC),) if method == "purge_chats" else ()
        return Run(method, args)

    return setup


def _provider(method: str, **kwargs: Any) -> Callable[[People], Run]:
    """A ProviderConfig call on an existing provider (``list`` takes no id)."""

    def setup(w: People) -> Run:
        provider = w.f.chat_provider(provider="openai")
        args = () if method == "list" else (provider.id,)
        return Run(method, args, kwargs, "ProviderConfig")

    return setup


def _mcp(method: str, **kwargs: Any) -> Callable[[People], Run]:
    """A McpServers call on an existing server (by id, by slug, or none for ``list``)."""

    def setup(w: People) -> Run:
        args = {"list": (), "get_by_slug": (w.mcp.slug,)}.get(method, (w.mcp.id,))
        return Run(method, args, kwargs, "McpServers")

    return setup


def _mcp_token(method: str, **kwargs: Any) -> Callable[[People], Run]:
    def setup(w: People) -> Run:
        w.f.mcp_server_user_token(mcp_server_config_id=w.mcp.id, user_id=w.owner.id)
        args = (w.owner.id,) if method == "user_tokens" else (w.mcp.id, w.owner.id)
        return Run(method, args, kwargs, "McpServers")

    return setup


SETUPS: dict[str, Callable[[People], Run]] = {
    "create_chat": lambda w: Run(
        "create_chat",
        kwargs={
            "organization_id": w.org.id,
            "owner_id": w.owner.id,
            "content": "hi",
            "model_config_id": w.model.id,
        },
    ),
    "create_chat (sub-agent)": lambda w: Run(
        "create_chat", kwargs={"parent_chat_id": _chat(w), "content": "go"}
    ),
    "list_chats": _listing,
    "update_chat": lambda w: Run("update_chat", (_chat(w),), {"labels": {"k": "v"}}),
    "archive": lambda w: Run("archive", (_chat(w),)),
    "unarchive": lambda w: Run("unarchive", (_chat(w, archived=True),)),
    "pin": lambda w: Run("pin", (_chat(w),)),
    "unpin": lambda w: Run("unpin", (_chat(w, pin_order=1),)),
    "reorder_pin": _reorder,
    "mark_read": _mark_read,
    "refresh_workspace_binding": _rebind,
    "send_message": lambda w: Run("send_message", (_chat(w, status="waiting"), "hi")),
    "promote_queued": _queued("promote_queued"),
    "auto_promote": _queued("auto_promote"),
    "edit_message": _edit,
    "submit_tool_results": _tool_call_pending,
    "report_git_reference": lambda w: Run(
        "report_git_reference", (_chat(w),), {"git_branch": "fix"}
    ),
    "record_pull_request": lambda w: Run(
        "record_pull_request",
        (_chat(w), ops.PullRequestStatus(url="https://example.invalid/pr/1")),
        {"stale_at": datetime.now(UTC)},
    ),
    "upload_file": lambda w: Run(
        "upload_file", kwargs={**FILE, "owner_id": w.owner.id, "organization_id": w.org.id}
    ),
    "upload_file (for a chat)": lambda w: Run("upload_file", kwargs={**FILE, "chat_id": _chat(w)}),
    "check_usage_limit": lambda w: Run("check_usage_limit", (w.owner.id, w.org.id)),
    "acquire_chats": _acquire,
    "heartbeat": _heartbeat,
    "recover_stale_chats": _recover,
    "purge_chats": _purge("purge_chats"),
    "purge_expired_chats": _purge("purge_expired_chats"),
    "ProviderConfig.create": lambda w: Run(
        "create", kwargs={"provider": "anthropic", "api_key": "sk-test"}, service="ProviderConfig"
    ),
    "ProviderConfig.update": _provider("update", display_name="renamed"),
    "ProviderConfig.delete": _provider("delete"),
    "ProviderConfig.get": _provider("get"),
    "ProviderConfig.list": _provider("list"),
    "McpServers.create": lambda w: Run(
        "create",
        kwargs={"display_name": "Docs", "slug": "docs", "url": "https://docs.example.com"},
        service="McpServers",
    ),
    "McpServers.update": _mcp("update", display_name="renamed"),
    "McpServers.delete": _mcp("delete"),
    "McpServers.get": _mcp("get"),
    "McpServers.get_by_slug": _mcp("get_by_slug"),
    "McpServers.list": _mcp("list"),
    # The object owner's own token for a server.
    "McpServers.set_user_token": _mcp_token("set_user_token", access_token="tok"),
    "McpServers.get_user_token": _mcp_token("get_user_token"),
    "McpServers.user_tokens": _mcp_token("user_tokens"),
    "McpServers.delete_user_token": _mcp_token("delete_user_token"),
}

# Worker and retention workflows take no actor from the context: it must be named.
EXPLICIT_ACTOR = frozenset(
    {"acquire_chats", "heartbeat", "recover_stale_chats", "purge_chats", "purge_expired_chats"}
)


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(value)
    }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dsn(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[str]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture(scope="module")
def setup_conn(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def store(dsn: str) -> Iterator[Store[Querier]]:
    with Store(dsn, querier_factory=Querier, min_size=1, max_size=2) as s:
        yield s


@pytest.fixture(scope="module")
def digest_sql(setup_conn: psycopg.Connection[Any]) -> sql.Composed:
    digests = sql.SQL(", ").join(
        sql.SQL(
            "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t)"
        ).format(sql.Identifier(table))
        for table in user_tables(setup_conn)
    )
    return sql.SQL("SELECT ARRAY[{}]").format(digests)


@pytest.fixture
def people(setup_conn: psycopg.Connection[Any]) -> Iterator[People]:
    try:
        yield People(setup_conn)
    finally:
        empty_tables(setup_conn)


# --------------------------------------------------------------------------- tests


SERVICES: dict[str, type[Workflows]] = {
    "Chats": Chats,
    "ProviderConfig": ProviderConfig,
    "McpServers": McpServers,
}


def _service_and_method(row: str) -> tuple[str, str]:
    """``"McpServers.get"`` -> (McpServers, get); ``"archive"`` -> (Chats, archive)."""
    name = row.split(" ")[0]
    return tuple(name.split(".")) if "." in name else ("Chats", name)  # type: ignore[return-value]


def test_every_workflow_has_a_row_and_a_setup() -> None:
    assert set(EXPECTED_WORKFLOWS) == set(SETUPS)
    covered = {_service_and_method(row) for row in EXPECTED_WORKFLOWS}
    every = {(name, m) for name, cls in SERVICES.items() for m in public_methods(cls)}
    missing = sorted(every - covered)
    assert not missing, f"say who may run these in tests/ops/expected_workflow_access.py: {missing}"
    assert covered == every
    # Every workflow class chatdb.ops exports has its rows (AsyncChats twins Chats).
    exported = {n for n in ops.__all__ if isinstance(getattr(ops, n), type)}
    services = {n for n in exported if issubclass(getattr(ops, n), Workflows)}
    # The concern classes Chats is assembled from are covered through Chats.
    parts = {n for n in services if issubclass(Chats, getattr(ops, n))}
    assert services - parts == set(SERVICES) - {"Chats"}
    assert public_methods(AsyncChats) == public_methods(Chats)
    assert set(EXPECTED_WORKFLOWS) >= FILTERED_WORKFLOWS
    for allowed in EXPECTED_WORKFLOWS.values():
        assert allowed <= set(SUBJECTS) and "no_actor" not in allowed


class Sweep:
    def __init__(self, row: str, store: Store[Querier], digest_sql: sql.Composed, owner: UUID):
        self.row = row
        self.store = store
        self.digest_sql = digest_sql
        self.owner = owner

    def digest(self) -> list[Any]:
        with self.store.connection() as conn:
            return conn.execute(self.digest_sql).fetchall()

    def admitted(self, result: Any) -> bool:
        if self.row not in FILTERED_WORKFLOWS:
            return True
        return any(r.chats.owner_id == self.owner for r in result)

    def verdict(self, admitted: dict[str, bool], how: str) -> None:
        got = {name for name, ok in admitted.items() if ok}
        want = EXPECTED_WORKFLOWS[self.row]
        assert got == want, (
            f"{self.row} ({how}): let in {sorted(got - want)} that the table refuses, "
            f"refused {sorted(want - got)} that the table allows"
        )


@pytest.mark.parametrize("row", sorted(EXPECTED_WORKFLOWS))
async def test_exactly_the_subjects_in_the_table_may_run_the_workflow(
    people: People,
    setup_conn: psycopg.Connection[Any],
    store: Store[Querier],
    digest_sql: sql.Composed,
    row: str,
) -> None:
    run = SETUPS[row](people)
    subjects = people.subjects()
    sweep = Sweep(row, store, digest_sql, people.owner.id)
    chats = Chats(store)
    target: Any = chats if run.service == "Chats" else SERVICES[run.service](store)
    before = sweep.digest()

    sync: dict[str, bool] = {}
    for name, subject in subjects.items():
        with store.transaction():
            try:
                result = getattr(target, run.method)(*run.args, **run.kwargs, actor=subject)
            except NotAuthorized:
                sync[name] = False
            else:
                sync[name] = sweep.admitted(result)
            if not sync[name]:
                assert sweep.digest() == before, f"{row}: {name} was refused but wrote"
            raise_rollback()
    sweep.verdict(sync, run.service)

    if run.service != "Chats":
        return  # only Chats has an async twin
    # AsyncChats runs each workflow on a worker thread in a transaction of its own (a
    # transaction belongs to the thread that opened it), so nothing can roll it back from
    # here: every subject gets freshly built rows instead.
    achats = AsyncChats(chats)
    asynchronous: dict[str, bool] = {}
    for name in SUBJECTS:
        empty_tables(setup_conn)
        world = People(setup_conn)
        run = SETUPS[row](world)
        subject = world.subjects()[name]
        sweep = Sweep(row, store, digest_sql, world.owner.id)
        before = sweep.digest()
        explicit = {"actor": subject} if run.method in EXPLICIT_ACTOR else {}
        context = as_actor(subject) if subject is not None and not explicit else nullcontext()
        with context:
            try:
                result = await getattr(achats, run.method)(*run.args, **run.kwargs, **explicit)
            except NotAuthorized:
                asynchronous[name] = False
            else:
                asynchronous[name] = sweep.admitted(result)
        if not asynchronous[name]:
            assert sweep.digest() == before, f"{row}: {name} was refused but wrote (async)"
    sweep.verdict(asynchronous, "AsyncChats")


def raise_rollback() -> None:
    """Leave the outer transaction rolled back: the next subject finds the same rows."""
    raise psycopg.Rollback()
