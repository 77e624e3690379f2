"""``python -m chatdb.testing.topology up|down`` (``make topology`` / ``make topology-down``).

Starts the production topology on this machine for a developer to try: a primary with the
migrations applied to database ``chatdb``, a streaming standby (``pg_basebackup -R``) and a
transaction-mode PgBouncer in front of the primary, all on loopback, run as the unprivileged
server user when started as root. ``up`` prints the connection strings and a ``Store`` using
them; ``down`` stops everything and removes the directories. State is kept in ``--state``
(default ``.topology.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

from chatdb.migrate import Migrator
from chatdb.testing.cluster import Node, start_primary

DATABASE = "chatdb"


def up(state: Path) -> int:
    if state.exists():
        print(f"already up (see {state}); `make topology-down` first", file=sys.stderr)
        return 1
    primary = start_primary()
    nodes = [primary]
    try:
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        Migrator(primary.dsn(DATABASE)).up()
        standby = primary.add_standby()
        nodes.append(standby)
        bouncer_pid, bouncer_dir, bouncer_dsn = None, None, None
        try:
            from chatdb.testing.pooler import PgBouncer

            bouncer = PgBouncer("127.0.0.1", primary.port, detached=True)
            bouncer_pid, bouncer_dir = bouncer.pid, str(bouncer.workdir)
            bouncer_dsn = bouncer.dsn(DATABASE)
        except Exception as exc:  # PgBouncer is optional for trying the rest
            print(f"PgBouncer not started: {exc}", file=sys.stderr)
    except BaseException:
        for node in nodes:
            node.destroy()
        raise
    state.write_text(
        json.dumps(
            {
                "nodes": [{"workdir": str(n.workdir), "port": n.port} for n in nodes],
                "pgbouncer": {"pid": bouncer_pid, "workdir": bouncer_dir},
            }
        )
    )
    both = (
        f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} user=postgres "
        f"dbname={DATABASE} target_session_attrs=read-write"
    )
    print(f"primary   {primary.dsn(DATABASE)}")
    print(f"standby   {standby.dsn(DATABASE)}")
    if bouncer_dsn:
        print(f"pgbouncer {bouncer_dsn}   (transaction pooling)")
    print(f"failover  {both}")
    print(
        "\nStore(failover_dsn, querier_factory=Querier, replicas=[standby_dsn])\n"
        "Store(pgbouncer_dsn, querier_factory=Querier, prepare_threshold=None,"
        " timeouts=Timeouts(server=False))\n"
        "\nmake topology-down stops it all."
    )
    return 0


def down(state: Path) -> int:
    if not state.exists():
        print("nothing is up", file=sys.stderr)
        return 0
    saved = json.loads(state.read_text())
    bouncer = saved.get("pgbouncer") or {}
    if bouncer.get("pid"):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(bouncer["pid"]), signal.SIGTERM)  # its own session: the whole group
    if bouncer.get("workdir"):
        shutil.rmtree(bouncer["workdir"], ignore_errors=True)
    for node in saved.get("nodes", []):
        Node(Path(node["workdir"]), int(node["port"])).destroy()
    state.unlink()
    print("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatdb.testing.topology")
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--state", type=Path, default=Path(".topology.json"))
    args = parser.parse_args(argv)
    return up(args.state) if args.command == "up" else down(args.state)


if __name__ == "__main__":
    sys.exit(main())
