"""``python -m bench`` (``make bench``): run every benchmark against a throwaway PostgreSQL.

Starts a server (or uses ``$CHATDB_PG_DSN``), gives each benchmark module a freshly migrated
database of its own (so one module's seed data cannot skew another's plans), and prints the
command, the environment and one table of ratios. ``bench/bench_authz.py`` is run too when it
exists: it exposes ``run(dsn)`` (given ``settings=`` too when it accepts them, so that
``--quick`` reaches it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from bench.harness import FULL, QUICK, Result, Settings, environment, render_table
from codegen.pgserver import ENV_DSN, PgServer, start_server

OWN_MODULES = (
    "queries",
    "chat_layer",
    "plans",
    "peers",
    "events",
    "observe",
    "topology",
    "workflows",
)
AUTHZ_MODULE = "bench.bench_authz"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few tiny rounds: proves every benchmark runs; the numbers are noise",
    )
    parser.add_argument(
        "-k",
        dest="only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only the modules whose name contains NAME (queries, chat_layer, plans, peers, events, observe, topology, workflows, authz)",
    )
    return parser.parse_args(argv)


def _authz_results(output: object) -> tuple[list[Result], str]:
    """Rows for the table when ``bench_authz.run`` returned harness results, else its repr."""
    if isinstance(output, list) and all(isinstance(r, Result) for r in output):
        return list(output), ""
    return [], repr(output)


def _modules(only: Sequence[str]) -> list[tuple[str, Callable[[str, Settings], list[Result]]]]:
    chosen: list[tuple[str, Callable[[str, Settings], list[Result]]]] = []
    for name in OWN_MODULES:
        if not only or any(k in name for k in only):
            module = importlib.import_module(f"bench.bench_{name}")
            chosen.append((name, module.run))
    if (not only or any(k in "authz" for k in only)) and importlib.util.find_spec(AUTHZ_MODULE):
        authz: Any = importlib.import_module(AUTHZ_MODULE)

        takes_settings = "settings" in inspect.signature(authz.run).parameters

        def run_authz(dsn: str, settings: Settings) -> list[Result]:
            output = authz.run(dsn, settings=settings) if takes_settings else authz.run(dsn)
            rows, text = _authz_results(output)
            if text:
                print(f"[authz] bench.bench_authz.run returned:\n{text}\n", flush=True)
            return rows

        chosen.append(("authz", run_authz))
    return chosen


def _fresh_database(server: PgServer) -> tuple[str, str]:
    from chatdb.migrate import Migrator

    name = server.create_database()
    dsn = server.dsn(name)
    Migrator(dsn).up()
    return name, dsn


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parse(argv)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    command = shlex.join([sys.executable, "-m", "bench", *argv])
    print(f"command: {command}")
    server = start_server()
    failed: list[str] = []
    results: list[Result] = []
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            for key, value in environment(conn):
                print(f"{key}: {value}")
        source = f"${ENV_DSN}" if os.environ.get(ENV_DSN) else "throwaway server (fsync off)"
        print(f"server: {source}")
        print(
            f"method: after warm-up, up to {settings.rounds} rounds of ~"
            f"{settings.round_seconds * 1000:g} ms per side, each split into up to "
            f"{settings.slices} slices alternating baseline/candidate on one connection; "
            "per op = median over rounds; ratio = median of per-round candidate/baseline "
            "[quartiles]; GC off while timing\n",
            flush=True,
        )
        for name, run in _modules(args.only):
            t0 = time.perf_counter()
            print(f"[{name}] running...", flush=True)
            dbname, dsn = _fresh_database(server)
            try:
                results += run(dsn, settings)
            except Exception:
                failed.append(name)
                traceback.print_exc()
            finally:
                server.drop_database(dbname)
            print(f"[{name}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        server.stop()
    print()
    print(render_table(results))
    over = [f"{r.group}: {r.name} ({r.ratio:.3f}×)" for r in results if r.verdict == "OVER"]
    if over:
        print("\nover target: " + "; ".join(over))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
