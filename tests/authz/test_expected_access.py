"""Every querier method, called by every kind of subject, against the hand-written table.

``expected_access.EXPECTED`` says who may call what; it is written from SPEC, not from the
``-- authz:`` lines. Here each method's rows are built once (with ``method_cases``' argument
builders, never its policy-derived checks), committed, and then every subject calls the
method through ``AuthzQuerier`` and through ``AsyncAuthzQuerier``, each call in a transaction
that is rolled back. The set of subjects that got through must equal the table's, and a
refused call must leave every table as it was. So a policy weakened to ``any_actor`` (or an
``and`` missing a term) fails here even though the regenerated wrapper agrees with it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from chatdb.authz.wrapper import AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import AsyncQuerier, Querier, Queries
from chatdb.errors import NotAuthorized
from codegen.pgserver import PgServer
from tests.authz.expected_access import EXPECTED, FILTERED, SUBJECTS
from tests.authz.method_cases import CASES, T0, T_OLD, Call, World, empty_tables, user_tables
from tests.authz.people import People

QUERY_METHODS = {
    name for name, value in vars(Queries).items() if not name.startswith("_") and callable(value)
}


# Arguments where the shared case would not put the object owner's rows at the centre.
def _diff_statuses(w: World, m: str) -> Call:
    w.f.chat_diff_status(chat_id=w.chat.id)
    return Call({"chat_ids": [w.chat.id]})


def _link_anothers_file(w: World, m: str) -> Call:
    assert isinstance(w, People)
    file = w.f.chat_file(owner_id=w.member.id, organization_id=w.org.id)
    return Call(w.generic(m, file_ids=[file.id]))


def _owners_latest_chat(w: World, m: str) -> Call:
    ws = w.f.workspace(organization_id=w.org.id, owner_id=w.owner.id)
    w.colleague_chat(workspace_id=ws.id, updated_at=T_OLD)
    w.new_chat(workspace_id=ws.id, updated_at=T0)
    return Call({"workspace_ids": [ws.id]})


def _messages_without_author(w: World, m: str) -> Call:
    # created_by must be the caller (is_actor[]), and here one call serves every subject: an
    # unattributed message (as the model's are) asks only who may add messages to the chat.
    call = CASES[m].prepare
    assert call is not None
    kwargs = call(w, m).kwargs
    return Call({**kwargs, "created_by": [None] * len(kwargs["created_by"])})


OVERRIDES: dict[str, Callable[[World, str], Call]] = {
    "insert_chat_messages": _messages_without_author,
    "get_chat_diff_statuses_by_chat_ids": _diff_statuses,
    "link_chat_files": _link_anothers_file,
    "get_latest_chat_ids_by_workspace_ids": _owners_latest_chat,
}


def prepare(world: People, method: str) -> dict[str, Any]:
    """The call's keyword arguments (the expected checks of the shared cases are not used)."""
    if method in OVERRIDES:
        return OVERRIDES[method](world, method).kwargs
    entry = CASES[method]
    return (entry.prepare(world, method) if entry.prepare else Call(world.generic(method))).kwargs


def chat_ids(rows: list[Any]) -> set[UUID]:
    """The chats a listing returned (rows embed the chat, or are / name it by ``id``)."""
    return {row.chats.id if hasattr(row, "chats") else row.id for row in rows}


# --------------------------------------------------------------------------- the database


@pytest.fixture(scope="module")
def dsn(chatdb_pg_server: PgServer, chatdb_template: str) -> Iterator[str]:
    name = chatdb_pg_server.create_database(template=chatdb_template)
    yield chatdb_pg_server.dsn(name)
    chatdb_pg_server.drop_database(name)


@pytest.fixture(scope="module")
def sconn(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def digest_sql(sconn: psycopg.Connection[Any]) -> sql.Composed:
    """One statement digesting every application table (a refusal must not change it)."""
    digests = sql.SQL(", ").join(
        sql.SQL(
            "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t)"
        ).format(sql.Identifier(table))
        for table in user_tables(sconn)
    )
    return sql.SQL("SELECT ARRAY[{}]").format(digests)


@pytest.fixture
def people(sconn: psycopg.Connection[Any]) -> Iterator[People]:
    """The method's rows, committed so the async connection sees them; emptied afterwards."""
    try:
        yield People(sconn)
    finally:
        empty_tables(sconn)


@pytest.fixture
async def aconn(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield conn


# --------------------------------------------------------------------------- the tests


def test_every_querier_method_has_a_row_in_the_table() -> None:
    missing = sorted(QUERY_METHODS - set(EXPECTED))
    stale = sorted(set(EXPECTED) - QUERY_METHODS)
    assert not missing, f"say who may call these in tests/authz/expected_access.py: {missing}"
    assert not stale, f"these rows name no querier method: {stale}"
    assert set(EXPECTED) >= FILTERED


def test_the_table_names_only_known_subjects_and_never_admits_no_actor() -> None:
    for method, allowed in EXPECTED.items():
        assert allowed <= set(SUBJECTS), method
        assert "no_actor" not in allowed, method


class Sweep:
    """One method called by every subject; collects who got through."""

    def __init__(self, method: str, owner: UUID, conn: psycopg.Connection[Any]) -> None:
        self.method = method
        self.owner_rows = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM chats WHERE owner_id = %(o)s"
                " UNION ALL SELECT id FROM chat_files WHERE owner_id = %(o)s",
                {"o": owner},
            )
        }

    def admitted(self, result: Any) -> bool:
        """A call that returned admitted its subject; for a listing, only if the owner's
        rows (chats or files) came back (a filter refuses by leaving them out)."""
        if self.method not in FILTERED:
            return True
        assert isinstance(result, list)
        return bool(chat_ids(result) & self.owner_rows)

    def verdict(self, admitted: dict[str, bool]) -> None:
        got = {name for name, ok in admitted.items() if ok}
        want = EXPECTED[self.method]
        assert got == want, (
            f"{self.method}: let in {sorted(got - want)} that the table refuses, "
            f"refused {sorted(want - got)} that the table allows"
        )


@pytest.mark.parametrize("method", sorted(EXPECTED))
async def test_exactly_the_subjects_in_the_table_may_call_the_method(
    people: People,
    sconn: psycopg.Connection[Any],
    aconn: psycopg.AsyncConnection[Any],
    digest_sql: sql.Composed,
    method: str,
) -> None:
    kwargs = prepare(people, method)
    subjects = people.subjects()
    sweep = Sweep(method, people.owner.id, sconn)
    before = sconn.execute(digest_sql).fetchall()
    q, aq = Querier(sconn), AsyncQuerier(aconn)

    sync: dict[str, bool] = {}
    for name, subject in subjects.items():
        with sconn.transaction(force_rollback=True):
            try:
                result = getattr(AuthzQuerier(q, actor=subject), method)(**kwargs)
            except NotAuthorized:
                sync[name] = False
            else:
                sync[name] = sweep.admitted(result)
            if not sync[name]:
                assert sconn.execute(digest_sql).fetchall() == before, f"{name} wrote"
    sweep.verdict(sync)

    asynchronous: dict[str, bool] = {}
    for name, subject in subjects.items():
        async with aconn.transaction(force_rollback=True):
            try:
                call = getattr(AsyncAuthzQuerier(aq, actor=subject), method)(**kwargs)
                assert inspect.isawaitable(call)
                result = await call
            except NotAuthorized:
                asynchronous[name] = False
            else:
                asynchronous[name] = sweep.admitted(result)
            if not asynchronous[name]:
                cur = await aconn.execute(digest_sql)
                assert await cur.fetchall() == before, f"{name} wrote (async)"
    sweep.verdict(asynchronous)
