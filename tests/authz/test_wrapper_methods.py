"""Every querier method through the generated authorization wrapper, one case per method.

For each method (see ``method_cases.CASES``): a refused check stops the call and writes
nothing; no actor is refused before any check or query; an allowed call performs exactly the
checks of its policy, in order, and then really runs (a write changes the database, a read
does not). The async wrapper is held to the same cases.

The sync tests share one database per module and roll back after each test (cloning a
database per test would cost more than the tests). The async tests need rows another
connection can see, so they commit and empty the tables after each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from chatdb.authz import (
    Action,
    Check,
    Object,
    RecordingAuthorizer,
    ResourceType,
    current_actor_or_none,
)
from chatdb.authz.wrapper import AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import AsyncQuerier
from chatdb.errors import NotAuthorized
from codegen.pgserver import PgServer
from tests.authz.method_cases import (
    ACTOR,
    CASES,
    Call,
    World,
    alternatives,
    empty_tables,
    fingerprint,
    policy_term,
    prepare_call,
    refusal,
    refused_checks,
    writes,
)

METHODS = sorted(CASES)
WITH_ALTERNATIVES = [m for m in METHODS if len(alternatives(m)) > 1]


@pytest.fixture(scope="module")
def module_dsn(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[str]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture(scope="module")
def module_conn(module_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(module_dsn) as conn:
        yield conn


@pytest.fixture
def conn(module_conn: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """The module's connection; everything the test did is rolled back afterwards."""
    try:
        yield module_conn
    finally:
        module_conn.rollback()


@pytest.fixture
def world(conn: psycopg.Connection[Any]) -> World:
    return World(conn)


def _checks(call: Call) -> list[Check]:
    assert call.checks is not None
    return call.checks


def _assert_rows_exist(world: World, method: str, call: Call) -> None:
    """A filtering method's case must return rows, or dropping them would prove nothing."""
    rows = getattr(world.q, method)(**call.kwargs)
    assert len(rows) >= 1, f"{method}: the case must prepare rows the plain querier returns"


# --------------------------------------------------------------------------- sync


@pytest.mark.parametrize("method", METHODS)
def test_a_refused_check_stops_the_call_and_writes_nothing(world: World, method: str) -> None:
    call = prepare_call(world, method)
    before = fingerprint(world.conn)
    authz = RecordingAuthorizer(deny_all=True)
    wrapped = getattr(AuthzQuerier(world.q, authz, actor=ACTOR), method)

    outcome = refusal(method)
    if outcome == "raises":
        with pytest.raises(NotAuthorized):
            wrapped(**call.kwargs)
    elif outcome == "filters":
        _assert_rows_exist(world, method, call)
        assert wrapped(**call.kwargs) == []
    else:  # any_actor: an authenticated actor passes without consulting the authorizer
        wrapped(**call.kwargs)
    assert authz.calls == refused_checks(world, method, call)
    assert fingerprint(world.conn) == before


@pytest.mark.parametrize("method", METHODS)
def test_a_call_without_an_actor_is_refused_before_any_check(world: World, method: str) -> None:
    assert current_actor_or_none() is None
    call = prepare_call(world, method)
    before = fingerprint(world.conn)

    with pytest.raises(NotAuthorized, match="no actor"):
        getattr(AuthzQuerier(world.q), method)(**call.kwargs)
    recording = RecordingAuthorizer()
    with pytest.raises(NotAuthorized, match="no actor"):
        getattr(AuthzQuerier(world.q, recording), method)(**call.kwargs)
    assert recording.calls == []
    assert fingerprint(world.conn) == before


@pytest.mark.parametrize("method", METHODS)
def test_an_allowed_call_performs_exactly_its_policy_checks_then_runs(
    world: World, method: str
) -> None:
    call = prepare_call(world, method)
    kind, _ = policy_term(method)
    plain = getattr(world.q, method)(**call.kwargs) if refusal(method) == "filters" else None
    before = fingerprint(world.conn)
    authz = RecordingAuthorizer()

    result = getattr(AuthzQuerier(world.q, authz, actor=ACTOR), method)(**call.kwargs)

    assert authz.calls == call.checks
    if kind == "post_filter":
        assert len(result) >= 2, f"{method}: prepare several rows to pin the check order"
        assert len(authz.calls) == len(result)
    if plain is not None:
        assert result == plain, "allowing everything must return what the plain querier does"
    if writes(method):
        assert fingerprint(world.conn) != before, f"{method}: the allowed call must write"
    else:
        assert fingerprint(world.conn) == before


@pytest.mark.parametrize("method", WITH_ALTERNATIVES)
def test_when_the_first_alternative_refuses_the_next_one_decides(world: World, method: str) -> None:
    call = prepare_call(world, method)
    first, second = refused_checks(world, method, call)
    admitted = RecordingAuthorizer(deny=[first])

    getattr(AuthzQuerier(world.q, admitted, actor=ACTOR), method)(**call.kwargs)

    assert admitted.calls == [first, second, *call.after]


def test_a_file_is_readable_through_a_chat_it_is_linked_to(world: World) -> None:
    file = world.file
    chat = world.new_chat()
    world.f.chat_file_link(chat_id=chat.id, file_id=file.id)
    file_check = Check(Action.READ, Object.chat_file(file.id, world.owner.id, world.org.id))
    chat_check = Check(Action.READ, world.chat_object(chat.id))
    authz = RecordingAuthorizer(deny=[file_check])

    got = AuthzQuerier(world.q, authz, actor=ACTOR).get_chat_file_by_id(id=file.id)

    assert got.id == file.id
    assert authz.calls == [file_check, chat_check]


def test_a_file_linked_only_to_unreadable_chats_is_refused(world: World) -> None:
    file = world.file
    world.f.chat_file_link(chat_id=world.new_chat().id, file_id=file.id)
    authz = RecordingAuthorizer(deny=lambda check: check.object.type is not ResourceType.USER)

    with pytest.raises(NotAuthorized):
        AuthzQuerier(world.q, authz, actor=ACTOR).get_chat_file_by_id(id=file.id)
    assert [c.object.type for c in authz.calls] == [ResourceType.CHAT_FILE, ResourceType.CHAT]


def test_an_array_policy_refuses_when_any_named_chat_is_refused(world: World) -> None:
    mine, theirs = world.chat, world.stranger_chat()
    refused = Check(Action.READ, world.chat_object(theirs.id))
    authz = RecordingAuthorizer(deny=[refused])

    with pytest.raises(NotAuthorized):
        AuthzQuerier(world.q, authz, actor=ACTOR).get_chat_diff_statuses_by_chat_ids(
            chat_ids=[mine.id, theirs.id]
        )
    assert authz.calls == [Check(Action.READ, world.chat_object(mine.id)), refused]


def test_a_post_filter_drops_exactly_the_refused_rows(world: World) -> None:
    call = prepare_call(world, "get_child_chats_by_parent_ids")
    newer, older = _checks(call)
    authz = RecordingAuthorizer(deny=[newer])

    rows = AuthzQuerier(world.q, authz, actor=ACTOR).get_child_chats_by_parent_ids(**call.kwargs)

    assert [r.chats.id for r in rows] == [older.object.id]
    assert authz.calls == [newer, older]


# --------------------------------------------------------------------------- async


@pytest.fixture(scope="module")
def committed_dsn(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[str]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture
def committed_world(committed_dsn: str) -> Iterator[World]:
    """A world whose rows are committed (the async connection must see them), emptied after."""
    with psycopg.connect(committed_dsn, autocommit=True) as conn:
        try:
            yield World(conn)
        finally:
            empty_tables(conn)


@pytest.fixture
async def aconn(committed_dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(committed_dsn, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("method", METHODS)
async def test_the_async_wrapper_enforces_the_same_policy(
    committed_world: World, aconn: psycopg.AsyncConnection[Any], method: str
) -> None:
    call = prepare_call(committed_world, method)
    q = AsyncQuerier(aconn)

    async def run(authz: RecordingAuthorizer, *, actor: bool = True) -> Any:
        wrapper = AsyncAuthzQuerier(q, authz, actor=ACTOR if actor else None)
        async with aconn.transaction(force_rollback=True):
            return await getattr(wrapper, method)(**call.kwargs)

    allowed = RecordingAuthorizer()
    await run(allowed)
    assert allowed.calls == call.checks

    refused = RecordingAuthorizer(deny_all=True)
    outcome = refusal(method)
    if outcome == "raises":
        with pytest.raises(NotAuthorized):
            await run(refused)
    elif outcome == "filters":
        assert await run(refused) == []
    else:
        await run(refused)
    assert refused.calls == refused_checks(committed_world, method, call)

    nobody = RecordingAuthorizer()
    with pytest.raises(NotAuthorized, match="no actor"):
        await run(nobody, actor=False)
    assert nobody.calls == []
