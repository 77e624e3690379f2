"""``make mutate``: weaken each policy in turn and check that a test notices.

The per-method wrapper tests take their expectations from the generated ``POLICIES``, so a
weakened ``-- authz:`` line regenerates a wrapper they agree with. The hand-written access
table (``tests/authz/expected_access.py``) is what must catch it. This tool proves it does:

- a *mutant* replaces one query's ``-- authz:`` policy by ``any_actor`` (every query whose
  policy is not already ``any_actor``), or drops one term of an ``and`` policy;
- each mutant is applied to a scratch copy of the repository (the real tree is never
  touched), regenerated with ``python -m codegen``, and the table's test for that method is
  run (sync and async, every subject);
- a mutant whose test still passes *survived*. The tool reports every survivor and exits 1
  when there is one. A mutant the generator itself rejects cannot ship and counts as killed
  (reported separately).

Weakening a ``sql_filter`` policy also removes its ``/* authz:filter */`` placeholder (leaving
``TRUE``): that is what an unfiltered query looks like, and the generator insists on it.

One PostgreSQL server (``$CHATDB_PG_DSN`` or a throwaway one) serves every regeneration and
test run; ``--jobs`` scratch copies work in parallel (2 suits 2 cores).

    python -m tools.mutate [--jobs N] [--only METHOD,...] [--full]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Literal, get_args

from codegen.names import method_name

TABLE_TEST = "tests/authz/test_expected_access.py"
TABLE_NODE = TABLE_TEST + "::test_exactly_the_subjects_in_the_table_may_call_the_method[{}]"
FILTER_MARKER = "/* authz:filter */"
QUERY_DIR = Path("sql/queries")

_NAME = re.compile(r"^--\s*name:\s*(?P<name>\w+)\s+:\w+\s*$")
_AUTHZ = re.compile(r"^(?P<prefix>--\s*authz:\s*)(?P<policy>.*?)\s*$")


@dataclass(frozen=True)
class Mutant:
    """One weakened policy: ``policy`` becomes ``mutated`` on line ``line`` of ``source``."""

    query: str
    method: str
    source: Path  # relative to the repository root
    line: int  # 0-based index of the ``-- authz:`` line
    policy: str
    mutated: str

    def describe(self) -> str:
        return f"{self.method}: {self.policy!r} -> {self.mutated!r}"


Outcome = Literal["killed", "rejected by codegen", "survived", "error"]


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    outcome: Outcome
    seconds: float
    detail: str = ""


def policies(root: Path) -> Iterator[tuple[str, Path, int, str]]:
    """(query name, file, line index, policy) of every ``-- authz:`` line under sql/queries."""
    for path in sorted((root / QUERY_DIR).glob("*.sql")):
        name: str | None = None
        for index, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if m := _NAME.match(line):
                name = m["name"]
            elif name is not None and (m := _AUTHZ.match(line)):
                yield name, path.relative_to(root), index, m["policy"]
                name = None


def mutants(root: Path, methods: Iterable[str] | None = None) -> list[Mutant]:
    """Every policy weakened to ``any_actor``, and every ``and`` policy minus each term."""
    wanted = set(methods) if methods is not None else None
    found: list[Mutant] = []
    for query, source, line, policy in policies(root):
        method = method_name(query)  # the generator's own naming
        if wanted is not None and method not in wanted:
            continue
        if policy != "any_actor":
            found.append(Mutant(query, method, source, line, policy, "any_actor"))
        terms = policy.split(" and ")
        for dropped in range(len(terms) if len(terms) > 1 else 0):
            rest = " and ".join(t for i, t in enumerate(terms) if i != dropped)
            found.append(Mutant(query, method, source, line, policy, rest))
    return found


def apply(root: Path, mutant: Mutant) -> None:
    """Write the mutant's policy into its query file under ``root``."""
    path = root / mutant.source
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    m = _AUTHZ.match(lines[mutant.line])
    assert m is not None and m["policy"] == mutant.policy, f"{path}:{mutant.line + 1} moved"
    lines[mutant.line] = f"{m['prefix']}{mutant.mutated}\n"
    if "sql_filter" in mutant.policy and "sql_filter" not in mutant.mutated:
        # The query's own statement runs until the next "-- name:" line.
        end = next(
            (i for i in range(mutant.line + 1, len(lines)) if _NAME.match(lines[i])), len(lines)
        )
        for i in range(mutant.line + 1, end):
            lines[i] = lines[i].replace(FILTER_MARKER + " ", "").replace(FILTER_MARKER, "")
    path.write_text("".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- scratch copies


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=mutate", "-c", "user.email=mutate@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def copy_repo(root: Path, dest: Path) -> None:
    """The repository's files as the working tree has them (tracked and new, not ignored),
    in a git repository of its own so that each mutant starts from a clean reset."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src, dst = root / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            if not dst.is_symlink():
                os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "scratch")


def reset(scratch: Path) -> None:
    _git(scratch, "checkout", "-q", "--", ".")
    _git(scratch, "clean", "-fdq", "-e", "__pycache__")


def scratch_env(scratch: Path, server_dsn: str) -> dict[str, str]:
    """The copy's own code first on the path (the installed package is an editable install
    of the real tree), and the shared server for codegen and the tests."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(scratch), env.get("PYTHONPATH")]))
    env["CHATDB_PG_DSN"] = server_dsn
    return env


def check_isolated(scratch: Path, env: dict[str, str]) -> None:
    """Fail loudly if the copy would import the real tree's chatdb (mutants would be void)."""
    out = _run([sys.executable, "-c", "import chatdb; print(chatdb.__file__)"], scratch, env)
    where = Path(out.stdout.strip()).resolve()
    if out.returncode != 0 or not where.is_relative_to(scratch.resolve()):
        raise SystemExit(f"mutate: the scratch copy imports chatdb from {where or out.stderr}")


def run_mutant(scratch: Path, env: dict[str, str], mutant: Mutant, full: bool) -> Result:
    started = time.monotonic()
    reset(scratch)
    try:
        apply(scratch, mutant)
        gen = _run([sys.executable, "-m", "codegen"], scratch, env)
        if gen.returncode != 0:
            tail = (gen.stderr or gen.stdout).strip().splitlines()[-1:]
            return Result(mutant, "rejected by codegen", time.monotonic() - started, *tail)
        target = TABLE_TEST if full else TABLE_NODE.format(mutant.method)
        test = _run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", target],
            scratch,
            env,
        )
    finally:
        reset(scratch)
    seconds = time.monotonic() - started
    if test.returncode == 0:
        return Result(mutant, "survived", seconds)
    if test.returncode == 1:
        return Result(mutant, "killed", seconds)
    return Result(mutant, "error", seconds, test.stdout[-2000:] + test.stderr[-2000:])


@contextmanager
def shared_server() -> Iterator[str]:
    """``$CHATDB_PG_DSN``, else a throwaway server for the whole run."""
    from codegen.pgserver import start_server

    server = start_server()
    try:
        yield server.dsn()
    finally:
        server.stop()


def mutate(
    root: Path,
    selected: list[Mutant],
    *,
    jobs: int = 2,
    full: bool = False,
    log: bool = True,
) -> list[Result]:
    """Run ``selected`` mutants over ``jobs`` scratch copies of ``root``; results in order."""
    results: list[Result | None] = [None] * len(selected)
    lock = threading.Lock()
    with shared_server() as dsn, tempfile.TemporaryDirectory(prefix="chatdb-mutate-") as tmp:
        copies: Queue[tuple[Path, dict[str, str]]] = Queue()
        for n in range(max(1, min(jobs, len(selected)))):
            scratch = Path(tmp) / f"copy{n}"
            copy_repo(root, scratch)
            env = scratch_env(scratch, dsn)
            check_isolated(scratch, env)
            copies.put((scratch, env))

        def work(index: int) -> None:
            scratch, env = copies.get()
            try:
                result = run_mutant(scratch, env, selected[index], full)
            finally:
                copies.put((scratch, env))
            results[index] = result
            if log:
                with lock:
                    print(
                        f"{result.outcome:>20}  {result.mutant.describe()}"
                        f"  ({result.seconds:.1f} s)",
                        flush=True,
                    )

        with ThreadPoolExecutor(max_workers=copies.qsize()) as pool:
            list(pool.map(work, range(len(selected))))
    return [r for r in results if r is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2, help="scratch copies run in parallel")
    parser.add_argument("--only", help="comma-separated method names (default: every query)")
    parser.add_argument(
        "--full", action="store_true", help="run the whole table per mutant, not its row"
    )
    args = parser.parse_args(argv)
    root = Path.cwd()
    only = args.only.split(",") if args.only else None
    selected = mutants(root, only)
    if not selected:
        parser.error("no mutant matches")

    started = time.monotonic()
    results = mutate(root, selected, jobs=args.jobs, full=args.full)
    elapsed = time.monotonic() - started

    count = {o: sum(r.outcome == o for r in results) for o in get_args(Outcome)}
    print(
        f"\nmutate: {len(results)} mutants, {count['killed']} killed by tests,"
        f" {count['rejected by codegen']} rejected by codegen, {count['survived']} survived,"
        f" {count['error']} errors; {elapsed:.0f} s with --jobs {args.jobs}"
    )
    for r in results:
        if r.outcome in ("survived", "error"):
            print(f"  {r.outcome.upper()}: {r.mutant.describe()}\n{r.detail}".rstrip())
    return 0 if count["survived"] == count["error"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
