"""Bad input through the authorized querier (issue 8, item 14): a table-driven sweep.

For every method of the generated wrapper and every text, JSON, list and time parameter of
it, a valid call (``tests/authz/method_cases``) gets one argument replaced by a hostile
value: a lone surrogate, a NUL character, JSON nested 10 000 deep, a value that is not JSON,
``None`` where a value is required, a naive datetime, a nested label value, an unknown
content version. Each must be refused with ``InvalidInput`` and write nothing; no driver or
Python error (UnicodeEncodeError, RecursionError, TypeError, ValueError) may escape.

The bad values are chosen from the plain querier's annotations (the generated types), not
from the checks under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from chatdb.authz import RecordingAuthorizer
from chatdb.authz.wrapper import AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import AsyncQuerier
from chatdb.errors import InvalidInput
from codegen.pgserver import PgServer
from tests.authz.method_cases import ACTOR, CASES, World, fingerprint, parameters, prepare_call

pytestmark = pytest.mark.timeout(120)


def _deep(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = [value]
    return value


DEEP_JSON = _deep(10_000)
SURROGATE = "lone \ud800 surrogate"
NUL = "nul \x00 char"
NAIVE = datetime(2025, 1, 1, 12, 0)  # no tzinfo

_BAD_BY_BASE: dict[str, list[object]] = {
    "str": [SURROGATE, NUL, 42],
    "JSON": [DEEP_JSON, {"k": object()}, {"k": float("nan")}, [SURROGATE], {"k": {1, 2}}],
    "datetime": [NAIVE, "2025-01-01"],
    "UUID": ["not-a-uuid-object"],
    "int": ["1", True],
    "dict[str, str]": [{"k": {"nested": "value"}}, {"k": SURROGATE}],
    "list[UUID]": ["not a list", [None]],
}
_BAD_BY_NAME: dict[str, list[object]] = {
    "labels": [{"k": {"nested": "value"}}, {"k": ["v"]}, {"bad key!": "v"}],
    "label_filter": [{"k": {"nested": "value"}}, {"k": 1}],
}
_BAD_ELEMENTS: dict[str, list[object]] = {
    "str": [SURROGATE],
    "JSON": [DEEP_JSON, object()],
    "datetime": [NAIVE],
}
_BAD_ELEMENTS_BY_NAME: dict[str, list[object]] = {"content_version": [99, -1]}


def bad_values(name: str, annotation: str) -> list[object]:
    """Hostile replacements for one parameter, from its annotation and name."""
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    out: list[object] = []
    if not optional:
        out.append(None)
    if base.startswith("Sequence["):
        element = base[len("Sequence[") : -1].removesuffix(" | None")
        out.append("a string is not a list")
        out += [[bad] for bad in _BAD_ELEMENTS.get(element, [])]
        out += [[bad] for bad in _BAD_ELEMENTS_BY_NAME.get(name, [])]
    else:
        out += _BAD_BY_BASE.get(base, [])
    out += _BAD_BY_NAME.get(name, [])
    return out


SWEEP = [
    (method, name, bad)
    for method in sorted(CASES)
    for name, annotation in parameters(method).items()
    for bad in bad_values(name, annotation)
]
METHODS_WITH_BAD = sorted({m for m, _, _ in SWEEP})


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
def world(module_conn: psycopg.Connection[Any]) -> Iterator[World]:
    try:
        yield World(module_conn)
    finally:
        module_conn.rollback()


def test_the_sweep_covers_every_kind_of_parameter() -> None:
    kinds = {a.removesuffix(" | None") for m in CASES for a in parameters(m).values()}
    assert {"str", "JSON", "datetime"} <= kinds
    assert any(k.startswith("Sequence[") for k in kinds)
    assert set(METHODS_WITH_BAD) == {m for m in CASES if parameters(m)}


@pytest.mark.parametrize("method", METHODS_WITH_BAD)
def test_every_bad_argument_is_refused_typed_and_writes_nothing(world: World, method: str) -> None:
    call = prepare_call(world, method)
    before = fingerprint(world.conn)
    authz = AuthzQuerier(world.q, RecordingAuthorizer(), actor=ACTOR)
    for m, name, bad in SWEEP:
        if m != method:
            continue
        kwargs = {**call.kwargs, name: bad}
        with pytest.raises(InvalidInput) as refused:
            getattr(authz, method)(**kwargs)
        assert refused.value.field == name, f"{method}({name}={bad!r:.60}): {refused.value}"
    assert fingerprint(world.conn) == before


async def test_the_async_wrapper_refuses_the_same_arguments(
    module_conn: psycopg.Connection[Any], chatdb_aconn: psycopg.AsyncConnection[Any]
) -> None:
    """The first bad value of each method, through the async wrapper."""
    authz = AsyncAuthzQuerier(AsyncQuerier(chatdb_aconn), RecordingAuthorizer(), actor=ACTOR)
    for method in METHODS_WITH_BAD:
        try:
            call = prepare_call(World(module_conn), method)
        finally:
            module_conn.rollback()
        _, name, bad = next(s for s in SWEEP if s[0] == method)
        with pytest.raises(InvalidInput) as refused:
            await getattr(authz, method)(**{**call.kwargs, name: bad})
        assert refused.value.field == name


def test_a_non_subject_actor_is_refused_typed(world: World) -> None:
    with pytest.raises(InvalidInput):
        AuthzQuerier(world.q, actor="alice")  # type: ignore[arg-type]
