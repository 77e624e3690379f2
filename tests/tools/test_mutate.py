"""``make mutate`` (tools/mutate.py) does what it says: a couple of mutants, end to end.

The full run (every policy) takes minutes and is not part of ``make test``; here the tool
runs two real mutants and one that changes nothing, so every verdict is shown to work: a
weakening that leaves a referenced id unchecked is rejected by codegen (the reference rule), a
weakening that still compiles is killed by the access table, an unchanged one survives.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chatdb.db import QUERIES
from codegen.pgserver import PgServer
from tools.mutate import FILTER_MARKER, Mutant, apply, mutants, mutate, policies

ROOT = Path(__file__).resolve().parents[2]


def test_every_policy_yields_a_weakening_and_every_and_term_a_drop() -> None:
    found = mutants(ROOT)
    by_method = {q.method: q.authz for q in QUERIES.values()}
    lines = list(policies(ROOT))
    assert {m.method for m in found} == {m for m, p in by_method.items() if p != "any_actor"}
    for method, policy in by_method.items():
        assert policy is not None
        mine = [m.mutated for m in found if m.method == method]
        terms = policy.split(" and ")
        drops = [" and ".join(t for t in terms if t != dropped) for dropped in terms]
        weakening = [] if policy == "any_actor" else ["any_actor"]
        assert sorted(mine) == sorted(weakening + (drops if len(terms) > 1 else [])), method
    assert len(lines) == len(QUERIES)


def test_weakening_a_sql_filter_removes_its_placeholder(tmp_path: Path) -> None:
    (tmp_path / "sql/queries").mkdir(parents=True)
    query = tmp_path / "sql/queries/q.sql"
    query.write_text(
        "-- name: ListThings :many\n"
        "-- authz: sql_filter read chat\n"
        f"SELECT * FROM chats WHERE {FILTER_MARKER} TRUE ORDER BY id;\n"
        "\n-- name: Other :many\n-- authz: sql_filter read chat\n"
        f"SELECT * FROM chats WHERE {FILTER_MARKER} TRUE;\n"
    )
    (weakened,) = [m for m in mutants(tmp_path) if m.query == "ListThings"]

    apply(tmp_path, weakened)

    lines = query.read_text().splitlines()
    assert lines[1] == "-- authz: any_actor"
    assert lines[2] == "SELECT * FROM chats WHERE TRUE ORDER BY id;"
    assert lines[6] == f"SELECT * FROM chats WHERE {FILTER_MARKER} TRUE;"  # the next query's


@pytest.mark.timeout(300)  # three regenerations and test runs in a scratch copy
def test_a_weakened_policy_is_killed_and_an_unchanged_one_survives(
    chatdb_pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())  # reuse the session's server
    by_method = {m.method: m for m in mutants(ROOT) if m.mutated == "any_actor"}
    # The weakening the issue reported unnoticed: owner_id is left unchecked, so it no longer
    # even compiles.
    cost = by_method["get_chat_cost_summary"]
    limit = by_method["upsert_chat_usage_limit_config"]  # no referenced ids: compiles
    unchanged: Mutant = replace(by_method["get_chat_by_id"], mutated="fetch read chat")
    assert unchanged.policy == unchanged.mutated

    results = mutate(ROOT, [cost, limit, unchanged], jobs=1, log=False)

    assert [(r.mutant, r.outcome) for r in results] == [
        (cost, "rejected by codegen"),
        (limit, "killed"),
        (unchanged, "survived"),
    ], [r.detail for r in results]
    assert (ROOT / cost.source).read_text().splitlines()[cost.line].endswith(cost.policy)
