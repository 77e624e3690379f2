"""A sqlc-style project the compiler was not written for: it compiles, type-checks and runs."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from codegen.catalog import apply_schema, schema_files
from codegen.config import Config
from codegen.main import generate, write
from codegen.pgserver import PgServer

HERE = Path(__file__).parent / "foreign"
ROOT = HERE.parent.parent.parent


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory, chatdb_pg_server: PgServer) -> Any:
    root = tmp_path_factory.mktemp("foreign")
    config = Config(
        schema=HERE / "schema.sql", queries=HERE / "query.sql", out=root / "foreign_db", root=ROOT
    )
    write(config, generate(config, chatdb_pg_server))
    sys.path.insert(0, str(root))
    try:
        yield root, importlib.import_module("foreign_db")
    finally:
        sys.path.remove(str(root))


@pytest.fixture
def conn(chatdb_pg_server: PgServer) -> Any:
    name = chatdb_pg_server.create_database()
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as c:
            apply_schema(c, schema_files(HERE / "schema.sql"))
            yield c
    finally:
        chatdb_pg_server.drop_database(name)


def fields(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def test_generated_package_passes_mypy_strict(foreign: tuple[Path, ModuleType]) -> None:
    root, _ = foreign
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "foreign_db"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_types_and_nullability(foreign: tuple[Path, ModuleType]) -> None:
    _, db = foreign
    assert fields(db.Book)["tags"] == "list[str]"
    assert fields(db.Book)["book_type"] == "BookType"
    assert [m.value for m in db.BookType] == ["FICTION", "NONFICTION"]
    # LEFT JOIN authors: the author's name may be missing.
    assert fields(db.BooksByTagsRow) == {
        "book_id": "int",
        "title": "str",
        "name": "str | None",
        "isbn": "str",
        "tags": "list[str]",
    }
    # A LATERAL sub-query on the right of a LEFT JOIN.
    assert fields(db.LatestBookPerAuthorRow)["title"] == "str | None"
    # Views are analysed like queries (the server reports every view column nullable).
    assert fields(db.AuthorBookCount) == {"author_id": "int", "name": "str", "books": "int"}
    assert fields(db.UpsertBookByISBNRow) == {"book_id": "int", "inserted": "bool"}
    assert fields(db.RankBooksRow)["rnk"] == "int"
    assert fields(db.SayHelloRow)["greeting"] == "str | None"  # a user function may return NULL


def test_queries_run(foreign: tuple[Path, ModuleType], conn: psycopg.Connection[Any]) -> None:
    _, db = foreign
    q = db.Querier(conn)
    ann = q.create_author(name="Ann")
    q.create_author(name="Nobody")
    book = q.create_book(
        author_id=ann.author_id,
        isbn="1",
        book_type=db.BookType.NONFICTION,
        title="First",
        year=2001,
        available=datetime(2026, 1, 1, tzinfo=UTC),
        tags=["a", "b"],
    )
    assert q.get_book(book_id=book.book_id) == book
    assert [r.title for r in q.books_by_tags(tags=["b"])] == ["First"]
    q.update_book_isbn(title="Renamed", tags=["c"], book_id=book.book_id, isbn="2")
    assert (q.get_book(book_id=book.book_id).title, q.get_book(book_id=book.book_id).isbn) == (
        "Renamed",
        "2",
    )
    assert q.update_author_partial(name=None, bio="bio", author_id=ann.author_id).name == "Ann"
    assert q.say_hello(s="you").greeting == "hello you"
    assert q.upsert_book_by_isbn(author_id=ann.author_id, isbn="2", title="Again").inserted is False
    assert [(r.name, r.books) for r in q.author_counts()] == [("Ann", 1), ("Nobody", 0)]
    assert [(r.name, r.title) for r in q.latest_book_per_author()] == [
        ("Ann", "Again"),
        ("Nobody", None),
    ]
    assert q.purge_authors_without_books().count == 1
