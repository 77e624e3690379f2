"""The pytest plugin, as a service's test suite sees it: run with pytester in-process.

The inner sessions share this session's server through ``CHATDB_PG_DSN`` (the plugin's
documented way to use an existing server), so no second PostgreSQL is started.
"""

from __future__ import annotations

import pytest

from codegen.pgserver import PgServer

pytest_plugins = ["pytester"]

USES_EVERY_FIXTURE = """
import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHAT_ACCESS, Subject
from chatdb.errors import NotAuthorized
from chatdb.ops import Chats


def test_factories_querier_and_authz_querier(
    chatdb_factories, chatdb_querier, chatdb_authz_querier
):
    chat = chatdb_factories.chat(title="mine")
    assert chatdb_querier.get_chat_by_id(id=chat.id).title == "mine"
    owner = Subject(id=chat.owner_id, name="owner", site_roles=(CHAT_ACCESS,),
                    memberships={chat.organization_id})
    stranger = Subject(id=chatdb_factories.user().id, name="stranger", site_roles=(CHAT_ACCESS,))
    assert chatdb_authz_querier(owner).get_chat_by_id(id=chat.id).id == chat.id
    with pytest.raises(NotAuthorized):
        chatdb_authz_querier(stranger).get_chat_by_id(id=chat.id)


def test_the_store_runs_workflows(chatdb_store, chatdb_factories):
    org = chatdb_factories.organization()
    model = chatdb_factories.chat_model_config(is_default=True)
    user = chatdb_factories.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    actor = Subject(id=user.id, name="u", site_roles=(CHAT_ACCESS,), memberships={org.id})
    created = Chats(chatdb_store).create_chat(organization_id=org.id, content="hi", actor=actor)
    assert created.chat.status is db.ChatStatus.PENDING
    assert created.chat.last_model_config_id == model.id


@pytest.mark.parametrize("n", [1, 2])
def test_every_test_gets_a_fresh_database(chatdb_conn, n):
    assert chatdb_conn.execute("SELECT count(*) FROM chats").fetchone() == (0,)
    chatdb_conn.execute(
        "INSERT INTO organizations (name) VALUES (%s)", (f"org-{n}",)
    )


def test_an_empty_database_has_no_tables(chatdb_empty_dsn):
    with psycopg.connect(chatdb_empty_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
"""

USES_OWN_MIGRATIONS = """
def test_the_template_is_built_from_the_service_migrations(chatdb_conn, chatdb_migrations_dir):
    assert chatdb_migrations_dir.name == "service_migrations"
    tables = {r[0] for r in chatdb_conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )}
    assert tables == {"schema_migrations", "invoices"}
"""


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, chatdb_pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())
    monkeypatch.delenv("CHATDB_MIGRATIONS_DIR", raising=False)
    return pytester


def ini(pytester: pytest.Pytester, extra: str = "") -> None:
    """A service's pytest.ini (pytest-asyncio wants its loop scope stated)."""
    pytester.makeini(f"[pytest]\nasyncio_default_fixture_loop_scope = function\n{extra}")


def service_migrations(pytester: pytest.Pytester) -> None:
    d = pytester.mkdir("service_migrations")
    (d / "000001_invoices.up.sql").write_text("CREATE TABLE invoices (id bigint PRIMARY KEY);")
    (d / "000001_invoices.down.sql").write_text("DROP TABLE invoices;")


def test_a_test_file_using_the_plugin_fixtures_passes(pytester: pytest.Pytester) -> None:
    ini(pytester)
    pytester.makepyfile(test_service=USES_EVERY_FIXTURE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_the_ini_option_points_the_template_at_the_service_migrations(
    pytester: pytest.Pytester,
) -> None:
    service_migrations(pytester)
    ini(pytester, "chatdb_migrations = service_migrations\n")
    pytester.makepyfile(test_service=USES_OWN_MIGRATIONS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_command_line_option_points_the_template_at_the_service_migrations(
    pytester: pytest.Pytester,
) -> None:
    service_migrations(pytester)
    ini(pytester)
    pytester.makepyfile(test_service=USES_OWN_MIGRATIONS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--chatdb-migrations={pytester.path / 'service_migrations'}"
    )
    result.assert_outcomes(passed=1)


def test_the_fixtures_are_listed_with_their_documentation(pytester: pytest.Pytester) -> None:
    ini(pytester)
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    for name in ("chatdb_dsn", "chatdb_store", "chatdb_authz_querier", "chatdb_factories"):
        result.stdout.fnmatch_lines([f"{name}*"])
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--chatdb-migrations=DIR" in help_text
    assert "chatdb_migrations" in help_text
