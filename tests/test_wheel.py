"""The wheel a service depends on: chatdb only, installable and usable outside the checkout.

Builds the wheel from a copy of the sources, checks what it holds, installs it into a fresh
virtualenv in a temporary directory (its dependencies are lent by this venv's site-packages
through a path entry, so no network is needed; nothing of the checkout is on that path), then
runs ``chatdb migrate up`` and the README quickstart from there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PYTHONNOUSERSITE": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    # The migrations link into sql/: copying resolves the link, as a release build would.
    shutil.copytree(REPO / "chatdb", src / "chatdb", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "codegen", src / "codegen")  # present in the tree, must not ship
    dist = tmp_path_factory.mktemp("dist")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        dist,
        src,
        cwd=src,
    )
    (built,) = dist.glob("chatdb-*.whl")
    return built


def test_the_wheel_holds_chatdb_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"chatdb"}
    migrations = [n for n in names if re.fullmatch(r"chatdb/migrations/\d+_\w+\.up\.sql", n)]
    assert len(migrations) == len(list((REPO / "sql" / "migrations").glob("*.up.sql")))
    assert "chatdb/testing/pgserver.py" in names  # the throwaway server lives with the kit
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert not [r for r in runtime if "jinja2" in r or "pglast" in r]


def test_installed_in_a_fresh_venv_it_migrates_and_runs_the_quickstart(
    wheel: Path, tmp_path: Path, chatdb_empty_dsn: str
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=tmp_path,
    )
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
        ).strip()
    )
    # The dependencies: this venv's site-packages, appended (its .pth files are not run, so
    # neither the editable chatdb nor the checkout's codegen comes along).
    (site / "lent-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = run(
        python,
        "-c",
        "import importlib.util, chatdb; print(chatdb.__file__);"
        " print(importlib.util.find_spec('codegen'))",
        cwd=tmp_path,
    ).splitlines()
    assert where[0].startswith(str(site)) and where[1] == "None"

    env = {"CHATDB_DSN": chatdb_empty_dsn}
    out = run(venv / "bin" / "chatdb", "migrate", "up", cwd=tmp_path, env=env)
    with psycopg.connect(chatdb_empty_dsn) as conn:
        applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert applied == (len(list((REPO / "sql" / "migrations").glob("*.up.sql"))),)
    assert out

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    (tmp_path / "quickstart.py").write_text(code.group(1))
    lines = run(python, "quickstart.py", cwd=tmp_path, env=env).splitlines()
    assert lines[0] == "True"
    assert lines[1].startswith("Flaky login test pending")
    assert lines[-1] == "2"

    # The code generator is a development tool: the installed CLI says so.
    done = subprocess.run(
        [str(venv / "bin" / "chatdb"), "gen"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "development tool" in done.stderr
