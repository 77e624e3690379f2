"""`python -m codegen explain NAME`: each column and parameter, its type and the rule that made
it nullable or not (expectations written by hand from the SQL, not read from the compiler)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.main import main
from codegen.pgserver import PgServer

pytestmark = pytest.mark.timeout(120)

CORPUS = Path(__file__).parent / "corpus"


def explain(
    case: str,
    name: str,
    server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, list[str], str]:
    monkeypatch.setenv("CHATDB_PG_DSN", server.dsn())
    monkeypatch.chdir(CORPUS / case)
    status = main(["explain", name])
    out = capsys.readouterr()
    return status, [" ".join(line.split()) for line in out.out.splitlines()], out.err


def test_columns_say_which_rule_decided(
    chatdb_pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, _ = explain(
        "nullability", "OuterJoinNotProven", chatdb_pg_server, monkeypatch, capsys
    )
    assert status == 0
    assert lines == [
        "OuterJoinNotProven :many query.sql:68 -> outer_join_not_proven(...) "
        "-> list[OuterJoinNotProvenRow]",
        "columns (OuterJoinNotProvenRow):",
        "title: str [text] non-null: column books.title is NOT NULL",
        "name: str | None [text] nullable: table authors is on the nullable side of an outer join",
    ]
    _, lines, _ = explain("nullability", "builtins", chatdb_pg_server, monkeypatch, capsys)
    assert "pi: float [float8] non-null: pi() is a STRICT built-in over non-null arguments" in lines
    assert (
        "lower_bio: str | None [text] nullable: lower() is STRICT and an argument may be NULL: "
        "column authors.bio is nullable"
    ) in lines
    assert (
        "empty_length: int | None [int4] nullable: array_length() can return NULL for non-null "
        "input (documented exception)"
    ) in lines
    _, lines, _ = explain("nullability", "NullifWithCheck", chatdb_pg_server, monkeypatch, capsys)
    assert "name: str [text] non-null: NULLIF: CHECK ((name <> ''::text)) rules out ''" in lines


def test_parameters_say_why_they_are_required_or_nullable(
    chatdb_pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, lines, _ = explain("params", "CreateProfile", chatdb_pg_server, monkeypatch, capsys)
    assert lines[1:6] == [
        "parameters:",
        "$1 id: int [int4] required: written to profiles.id, which is NOT NULL",
        "$2 name: str [text] required: written to profiles.name, which is NOT NULL",
        "$3 bio: str | None [text] nullable: written to the nullable column profiles.bio",
        "$4 website: str | None [text] nullable: written to the nullable column profiles.website",
    ]
    _, lines, _ = explain("params", "SetBioIfMatches", chatdb_pg_server, monkeypatch, capsys)
    assert (
        "$1 bio: str [text] required: written to nullable profiles.bio but also compared" in lines
    )


def test_unknown_name_is_an_error(
    chatdb_pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, err = explain("params", "Profile", chatdb_pg_server, monkeypatch, capsys)
    assert (status, lines) == (1, [])
    assert err == (
        "codegen: error: no query named 'Profile' (did you mean CreateProfile, "
        "CreateProfilePositional?)\n"
    )
