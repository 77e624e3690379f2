"""The checked-in schema dump is the schema the migration runner produces."""

from __future__ import annotations

from pathlib import Path

from codegen.schemadump import dump_schema

ROOT = Path(__file__).resolve().parent.parent


def test_fully_migrated_schema_equals_sql_schema_sql(chatdb_dsn: str) -> None:
    dumped = dump_schema(chatdb_dsn, exclude_tables=("public.schema_migrations",))
    assert dumped == (ROOT / "sql" / "schema.sql").read_text()
