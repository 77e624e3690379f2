"""The conformance corpus: sqlc-style mini projects the compiler must get right.

Each directory of ``corpus/`` is a project as a user would write it: a ``pyproject.toml``
with ``[tool.codegen]`` (schema, queries, overrides), its schema and query files, and either

- ``check.py`` with ``check(db, conn)``: the project generates, imports, passes
  ``mypy --strict`` and ``check`` executes the generated code against a database holding the
  schema, asserting values and that every value has its annotated type (``typecheck.py``);
- or ``errors.txt``: the CLI reports exactly these lines (every error of every file, sorted),
  exits 1 and writes nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from codegen.catalog import apply_schema, schema_files
from codegen.config import Config, load_config
from codegen.main import generate, main, write
from codegen.pgserver import PgServer

pytestmark = pytest.mark.timeout(300)

CORPUS = Path(__file__).parent / "corpus"
ROOT = CORPUS.parent.parent.parent
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "check.py").exists())
ERROR_CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "errors.txt").exists())


def package_name(case: str) -> str:
    return f"corpus_{case}"


def case_config(case: str, out: Path) -> Config:
    config = load_config(CORPUS / case / "pyproject.toml", out=out)
    config.root = CORPUS / case
    return config


@pytest.fixture(scope="session")
def corpus_root(tmp_path_factory: pytest.TempPathFactory, chatdb_pg_server: PgServer) -> Path:
    """Every passing case generated into one directory (one package per case)."""
    root = tmp_path_factory.mktemp("corpus")
    for case in CASES:
        config = case_config(case, root / package_name(case))
        write(config, generate(config, chatdb_pg_server))
    return root


@pytest.fixture(scope="session")
def corpus_import(corpus_root: Path) -> Iterator[Path]:
    sys.path.insert(0, str(corpus_root))
    try:
        yield corpus_root
    finally:
        sys.path.remove(str(corpus_root))


def load_check(case: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"corpus_check_{case}", CORPUS / case / "check.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


@pytest.fixture
def case_conn(request: pytest.FixtureRequest, chatdb_pg_server: PgServer) -> Iterator[Any]:
    """A fresh database holding the case's schema."""
    case: str = request.param
    name = chatdb_pg_server.create_database()
    try:
        with psycopg.connect(chatdb_pg_server.dsn(name), autocommit=True) as conn:
            config = case_config(case, CORPUS / case / "unused")
            apply_schema(conn, schema_files(config.schema))
            yield case, conn
    finally:
        chatdb_pg_server.drop_database(name)


def test_every_case_is_a_project() -> None:
    assert CASES and ERROR_CASES
    for case in CASES + ERROR_CASES:
        assert (CORPUS / case / "pyproject.toml").exists(), case


def test_generated_packages_pass_mypy_strict(corpus_root: Path) -> None:
    packages = [package_name(c) for c in CASES]
    args = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    for p in packages:
        args += ["-p", p]
    # A case's typed.py uses its package as a caller would: its calls must type-check.
    for case in CASES:
        typed = CORPUS / case / "typed.py"
        if typed.exists():
            (corpus_root / f"typed_{case}.py").write_text(typed.read_text())
            args += ["-m", f"typed_{case}"]
    proc = subprocess.run(
        args,
        cwd=corpus_root,
        capture_output=True,
        text=True,
        env={"MYPYPATH": f"{ROOT}:{corpus_root}", "PATH": "/usr/bin:/bin"},
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case_conn", CASES, indirect=True)
def test_generated_code_runs(corpus_import: Path, case_conn: tuple[str, Any]) -> None:
    case, conn = case_conn
    db: ModuleType = importlib.import_module(package_name(case))
    load_check(case)(db, conn)


@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_are_all_reported_and_nothing_is_written(
    case: str,
    tmp_path: Path,
    chatdb_pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())
    monkeypatch.chdir(CORPUS / case)
    out = tmp_path / "out"
    assert main(["--out", str(out)]) == 1
    expected = (CORPUS / case / "errors.txt").read_text().splitlines()
    assert capsys.readouterr().err.splitlines() == expected
    assert not out.exists()
