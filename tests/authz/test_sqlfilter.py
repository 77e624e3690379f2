"""The SQL-filter compiler: predicate shape, safety, caching, and agreement with the engine.

The property test evaluates every compiled predicate in a real PostgreSQL over a table that
holds every (owner, organization) combination, and compares the selected rows with
``Authorizer.allowed`` on the matching objects.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.authz import (
    BUILTIN_ROLES,
    CHAT_ACCESS,
    MEMBER,
    ORGANIZATION_ADMIN,
    OWNER,
    SYSTEM_SUBJECTS,
    Action,
    Authorizer,
    Object,
    ResourceType,
    Role,
    Scope,
    Subject,
    allow,
    compile_filter,
    deny,
)
from chatdb.authz.sqlfilter import uuid_array
from codegen.pgserver import throwaway_server

A = Action
T = ResourceType

ORG_A = UUID("0a000000-0000-4000-8000-000000000001")
ORG_B = UUID("0b000000-0000-4000-8000-000000000002")
ORG_C = UUID("0c000000-0000-4000-8000-000000000003")
ORG_STRANGER = UUID("0d000000-0000-4000-8000-000000000004")  # nobody is ever a member
ALICE = UUID("a1000000-0000-4000-8000-000000000001")
BOB = UUID("b0000000-0000-4000-8000-000000000002")
CAROL = UUID("c0000000-0000-4000-8000-000000000003")

CHAT_COLUMNS: dict[str, Any] = {"owner_column": "owner_id", "org_column": "organization_id"}


def alice(*site_roles: str, **kw: Any) -> Subject:
    kw.setdefault("memberships", (ORG_A,))
    return Subject(id=ALICE, name="alice", site_roles=site_roles, **kw)


# --------------------------------------------------------------------------- shape


def test_a_site_wide_grant_compiles_to_true_without_params() -> None:
    f = compile_filter(alice(OWNER), A.READ, T.CHAT, **CHAT_COLUMNS, first_param=4)
    assert (f.sql, f.params, f.next_param) == ("TRUE", (), 4)


def test_no_grant_compiles_to_false() -> None:
    f = compile_filter(alice(MEMBER), A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1)
    assert (f.sql, f.params) == ("FALSE", ())


def test_no_actor_compiles_to_false() -> None:
    f = compile_filter(None, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1)
    assert f.sql == "FALSE"


def test_chat_access_compiles_to_own_rows_in_member_orgs() -> None:
    f = compile_filter(alice(MEMBER, CHAT_ACCESS), A.READ, T.CHAT, **CHAT_COLUMNS, first_param=5)
    assert f.sql == (
        "((owner_id = $5::uuid AND (organization_id = $6::uuid OR organization_id IS NULL)))"
    )
    assert f.params == (ALICE, ORG_A)
    assert f.next_param == 7


def test_org_admin_and_chat_access_compile_to_org_or_own_rows() -> None:
    subject = alice(CHAT_ACCESS, memberships=(ORG_B,), org_roles={ORG_A: [ORGANIZATION_ADMIN]})
    f = compile_filter(subject, A.UPDATE, T.CHAT, **CHAT_COLUMNS, first_param=2)
    assert f.sql == (
        "(organization_id = $2::uuid OR (owner_id = $3::uuid"
        " AND (organization_id = $4::uuid OR organization_id IS NULL)))"
    )
    assert f.params == (ORG_A, ALICE, ORG_B)


def test_a_not_null_organization_column_drops_only_the_organization_less_arm() -> None:
    subject = alice(CHAT_ACCESS, memberships=(ORG_B,), org_roles={ORG_A: [ORGANIZATION_ADMIN]})
    f = compile_filter(subject, A.UPDATE, T.CHAT, **CHAT_COLUMNS, first_param=2, org_nullable=False)
    assert f.sql == (
        "(organization_id = $2::uuid OR (owner_id = $3::uuid AND organization_id = $4::uuid))"
    )
    assert f.params == (ORG_A, ALICE, ORG_B)


def test_own_organization_less_objects_alone_match_nothing_on_a_not_null_column() -> None:
    # A chat-access user in no organization may read only her organization-less chats.
    lonely = alice(CHAT_ACCESS, memberships=())
    kept = compile_filter(lonely, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1)
    assert kept.sql == "((owner_id = $1::uuid AND organization_id IS NULL))"
    dropped = compile_filter(
        lonely, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1, org_nullable=False
    )
    assert (dropped.sql, dropped.params) == ("FALSE", ())


def test_several_organizations_travel_as_the_text_of_a_sorted_uuid_array() -> None:
    subject = alice(CHAT_ACCESS, memberships=(ORG_C, ORG_A, ORG_B))
    f = compile_filter(subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1, org_nullable=False)
    assert f.sql == "((owner_id = $1::uuid AND organization_id = ANY($2::uuid[])))"
    assert f.params == (ALICE, "{" + ",".join(str(o) for o in (ORG_A, ORG_B, ORG_C)) + "}")
    with pytest.raises(TypeError):
        uuid_array([ORG_A, "0b000000-0000-4000-8000-000000000002}"])  # type: ignore[list-item]


def test_qualified_columns_are_used_as_given() -> None:
    f = compile_filter(
        alice(CHAT_ACCESS),
        A.READ,
        T.CHAT,
        owner_column="c.owner_id",
        org_column="c.organization_id",
        first_param=1,
    )
    assert "c.owner_id = $1::uuid" in f.sql and "c.organization_id = $2::uuid" in f.sql


def test_a_denied_org_is_left_out_even_where_ownership_would_allow() -> None:
    roles = {
        **BUILTIN_ROLES,
        "org-no-chats": Role("org-no-chats", org=deny(T.CHAT), placements=frozenset({"org"})),
    }
    subject = alice(CHAT_ACCESS, memberships=(ORG_A, ORG_B), org_roles={ORG_A: ["org-no-chats"]})
    f = compile_filter(
        subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1, authorizer=Authorizer(roles)
    )
    assert f.params == (ALICE, ORG_B)


def test_a_restricting_scope_compiles_to_false() -> None:
    scoped = alice(CHAT_ACCESS, scope=Scope.restricted("files", [(T.CHAT_FILE, A.READ)]))
    assert compile_filter(scoped, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1).sql == "FALSE"
    assert compile_filter(scoped, A.READ, T.CHAT_FILE, **CHAT_COLUMNS, first_param=1).sql != "FALSE"


def test_values_never_appear_in_the_sql_text() -> None:
    subject = alice(CHAT_ACCESS, memberships=(ORG_B,), org_roles={ORG_A: [ORGANIZATION_ADMIN]})
    f = compile_filter(subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=1)
    for value in (ALICE, ORG_A, ORG_B):
        assert str(value) not in f.sql and value.hex not in f.sql


@pytest.mark.parametrize(
    "column",
    [
        "owner_id; DROP TABLE chats",
        "owner_id)",
        "Owner_Id",
        '"owner_id"',
        "a.b.c",
        "1col",
        "",
        "x y",
    ],
)
def test_anything_but_a_plain_column_identifier_is_rejected(column: str) -> None:
    with pytest.raises(ValueError):
        compile_filter(
            alice(OWNER), A.READ, T.CHAT, owner_column=column, org_column=None, first_param=1
        )
    with pytest.raises(ValueError):
        compile_filter(
            alice(OWNER), A.READ, T.CHAT, owner_column=None, org_column=column, first_param=1
        )


def test_placeholders_start_at_one_or_later() -> None:
    with pytest.raises(ValueError):
        compile_filter(alice(CHAT_ACCESS), A.READ, T.CHAT, **CHAT_COLUMNS, first_param=0)


def test_a_wildcard_type_cannot_be_filtered() -> None:
    with pytest.raises(ValueError):
        compile_filter(alice(OWNER), A.READ, T.WILDCARD, **CHAT_COLUMNS, first_param=1)


def test_compiled_filters_are_cached_per_subject_action_type_columns_and_first_param() -> None:
    az = Authorizer()
    subject = alice(CHAT_ACCESS)
    first = compile_filter(subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=3, authorizer=az)
    again = compile_filter(
        alice(CHAT_ACCESS), A.READ, T.CHAT, **CHAT_COLUMNS, first_param=3, authorizer=az
    )
    moved = compile_filter(subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=4, authorizer=az)
    narrowed = compile_filter(
        subject, A.READ, T.CHAT, **CHAT_COLUMNS, first_param=3, org_nullable=False, authorizer=az
    )
    assert again is first
    assert moved is not first and moved.sql.startswith("((owner_id = $4::uuid")
    assert narrowed is not first and "IS NULL" in first.sql and "IS NULL" not in narrowed.sql


# --------------------------------------------------------------------------- equivalence

ORGS = (ORG_A, ORG_B, ORG_C, ORG_STRANGER)
USERS = (ALICE, BOB, CAROL)
ROWS: list[tuple[int, UUID | None, UUID | None]] = [
    (i, owner, org)
    for i, (owner, org) in enumerate(
        (owner, org) for owner in (*USERS, None) for org in (*ORGS, None)
    )
]

ROWS_IN_ORGS = [row for row in ROWS if row[2] is not None]

EXTRA_ROLES: dict[str, Role] = {
    "no-chats": Role("no-chats", site=deny(T.CHAT)),
    "no-deletes": Role("no-deletes", site=deny(T.WILDCARD, A.DELETE)),
    "file-reader": Role("file-reader", site=allow(T.CHAT_FILE, A.READ)),
    "org-no-chats": Role("org-no-chats", org=deny(T.CHAT), placements=frozenset({"org"})),
    "org-reader": Role("org-reader", org=allow(T.WILDCARD, A.READ), placements=frozenset({"org"})),
    "mine-all": Role("mine-all", user=allow(T.WILDCARD), placements=frozenset({"site", "org"})),
    "not-my-files": Role(
        "not-my-files", user=deny(T.CHAT_FILE), placements=frozenset({"site", "org"})
    ),
    "site-org-writer": Role("site-org-writer", org=allow(T.CHAT, A.UPDATE)),
}
ROLES = {**BUILTIN_ROLES, **EXTRA_ROLES}
ROLE_NAMES = sorted(ROLES)


def random_subject(rng: random.Random) -> Subject:
    if rng.random() < 0.05:
        return rng.choice(SYSTEM_SUBJECTS)
    orgs = ORGS[:3]
    org_roles = {
        org: rng.sample(ROLE_NAMES, rng.randint(0, 2))
        for org in rng.sample(orgs, rng.randint(0, 2))
    }
    scope = Scope("all")
    if rng.random() < 0.2:
        pairs = [(rng.choice(list(T)), rng.choice(list(A))) for _ in range(rng.randint(1, 6))]
        scope = Scope.restricted("random", pairs)
    return Subject(
        id=rng.choice(USERS),
        name="random",
        site_roles=rng.sample(ROLE_NAMES, rng.randint(0, 3)),
        org_roles=org_roles,
        memberships=rng.sample(orgs, rng.randint(0, 3)),
        scope=scope,
        is_system=rng.random() < 0.1,
    )


@pytest.fixture(scope="module")
def conn() -> Iterator[psycopg.Connection[Any]]:
    with throwaway_server() as server:
        dbname = server.create_database()
        with psycopg.connect(server.dsn(dbname), autocommit=True) as c:
            c.execute("CREATE TABLE rows (id int PRIMARY KEY, owner_id uuid, organization_id uuid)")
            c.execute(
                "CREATE TABLE rows_in_orgs"
                " (id int PRIMARY KEY, owner_id uuid, organization_id uuid NOT NULL)"
            )
            with c.cursor() as cur:
                cur.executemany("INSERT INTO rows VALUES (%s, %s, %s)", ROWS)
                cur.executemany("INSERT INTO rows_in_orgs VALUES (%s, %s, %s)", ROWS_IN_ORGS)
            yield c


def selected(conn: psycopg.Connection[Any], query: str, params: tuple[object, ...]) -> set[int]:
    with psycopg.RawCursor(conn) as cur:
        cur.execute(query, params)
        return {row[0] for row in cur.fetchall()}


# (table, owner column, organization column, org_nullable): the NOT NULL table is filtered
# the way the generated wrapper filters chats, without the organization-less arm.
COLUMN_VARIANTS: list[tuple[str, str | None, str | None, bool]] = [
    ("rows", "r.owner_id", "r.organization_id", True),
    ("rows", "r.owner_id", None, True),
    ("rows", None, "r.organization_id", True),
    ("rows_in_orgs", "r.owner_id", "r.organization_id", False),
]
TABLE_ROWS = {"rows": ROWS, "rows_in_orgs": ROWS_IN_ORGS}
ROW_COLUMNS: dict[str, Any] = {"owner_column": "r.owner_id", "org_column": "r.organization_id"}


def test_sql_filter_selects_exactly_the_rows_the_engine_allows(
    conn: psycopg.Connection[Any],
) -> None:
    rng = random.Random(20240601)
    az = Authorizer(ROLES)
    checked = granted_somewhere = 0
    for _ in range(150):
        subject = random_subject(rng)
        for action in A:
            for type in (T.CHAT, T.CHAT_FILE, T.USER, T.ORGANIZATION, T.DEPLOYMENT_CONFIG):
                table, owner_col, org_col, org_nullable = rng.choice(COLUMN_VARIANTS)
                f = az.sql_filter(
                    subject,
                    action,
                    type,
                    owner_column=owner_col,
                    org_column=org_col,
                    first_param=2,
                    org_nullable=org_nullable,
                )
                # A real query's own parameter comes first; the filter's are numbered after it.
                got = selected(
                    conn, f"SELECT id FROM {table} r WHERE id >= $1 AND {f.sql}", (0, *f.params)
                )
                want = {
                    i
                    for i, owner, org in TABLE_ROWS[table]
                    if az.allowed(
                        subject,
                        action,
                        Object(
                            type,
                            uuid4(),
                            owner if owner_col else None,
                            org if org_col else None,
                        ),
                    )
                }
                assert got == want, (subject, action, type, table, owner_col, org_col, f)
                checked += 1
                granted_somewhere += bool(want) and len(want) < len(TABLE_ROWS[table])
    # The property must have been exercised on partial grants, not only TRUE/FALSE.
    assert checked == 150 * len(A) * 5
    assert granted_somewhere > 100


def test_an_owner_sees_her_organization_less_row_where_the_column_is_nullable(
    conn: psycopg.Connection[Any],
) -> None:
    """The organization-less arm is what finds such a row: dropping it would hide the row."""
    lonely = alice(CHAT_ACCESS, memberships=())
    orgless_mine = {i for i, owner, org in ROWS if owner == ALICE and org is None}
    assert Authorizer().allowed(lonely, A.READ, Object(T.CHAT, uuid4(), ALICE, None))
    query = "SELECT id FROM rows r WHERE id >= $1 AND {}"
    kept = compile_filter(lonely, A.READ, T.CHAT, **ROW_COLUMNS, first_param=2)
    assert selected(conn, query.format(kept.sql), (0, *kept.params)) == orgless_mine
    wrong = compile_filter(lonely, A.READ, T.CHAT, **ROW_COLUMNS, first_param=2, org_nullable=False)
    assert selected(conn, query.format(wrong.sql), (0, *wrong.params)) == set()


def test_an_id_array_parameter_arrives_as_those_uuids(conn: psycopg.Connection[Any]) -> None:
    ids = [ORG_A, ORG_B, ORG_C]
    with psycopg.RawCursor(conn) as cur:
        cur.execute("SELECT $1::uuid[]", (uuid_array(ids),))
        assert cur.fetchone() == (ids,)
