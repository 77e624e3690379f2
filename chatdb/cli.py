"""The ``chatdb`` command line.

Each command group is one ``add_*`` function that builds its argparse sub-parser and sets a
``handler`` (``Namespace -> int``); :data:`COMMANDS` lists them, so a new group (``demo``,
``schema``, ``gen``) is one more function appended there. User mistakes end in a one-line
``chatdb: error: ...`` on stderr and exit status 1 (2 for usage errors), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from chatdb.errors import ChatDBError
from chatdb.migrate import (
    MigrationError,
    Migrator,
    create_migration,
    default_migrations_dir,
)

__all__ = [
    "COMMANDS",
    "ENV_DSN",
    "Subcommands",
    "UsageError",
    "add_dir_option",
    "add_dsn_option",
    "build_parser",
    "main",
    "require_dsn",
]

ENV_DSN = "CHATDB_DSN"

# What ``add_subparsers()`` returns; each command group adds its parser to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(Exception):
    """The command line is incomplete in a way argparse cannot see (exit status 2)."""


# --- shared options ----------------------------------------------------------------------------


def add_dsn_option(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """``--dsn``. ``inherited``: on a leaf parser whose parent also takes it (keep the parent's)."""
    parser.add_argument(
        "--dsn",
        default=argparse.SUPPRESS if inherited else None,
        help=f"PostgreSQL connection string or URL (default: ${ENV_DSN})",
    )


def add_dir_option(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    """``--dir``: the migrations directory."""
    parser.add_argument(
        "--dir",
        type=Path,
        default=argparse.SUPPRESS if inherited else None,
        metavar="DIR",
        help="migrations directory (default: $CHATDB_MIGRATIONS_DIR, else sql/migrations)",
    )


def require_dsn(args: argparse.Namespace) -> str:
    """The DSN from ``--dsn`` or ``$CHATDB_DSN``."""
    dsn: str | None = getattr(args, "dsn", None) or os.environ.get(ENV_DSN)
    if not dsn:
        raise UsageError(f"no database: pass --dsn or set {ENV_DSN}")
    return dsn


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {value}")
    return value


# --- chatdb migrate ----------------------------------------------------------------------------


_MIGRATE_EXAMPLES = """\
examples:
  chatdb migrate up --dsn postgresql://app@localhost/chat
  CHATDB_DSN=postgresql://app@localhost/chat chatdb migrate status
  chatdb migrate up --target 5
  chatdb migrate down 2
  chatdb migrate create add_chat_labels
"""


def add_migrate_command(subparsers: Subcommands) -> None:
    """``chatdb migrate up|down|status|create``."""
    migrate = subparsers.add_parser(
        "migrate",
        help="apply, roll back, list or create schema migrations",
        description=(
            "Manage the numbered NNNNNN_name.up.sql / .down.sql migrations. Each migration runs "
            "in its own transaction; an advisory lock makes concurrent runs wait their turn."
        ),
        epilog=_MIGRATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dsn_option(migrate)
    add_dir_option(migrate)
    actions = migrate.add_subparsers(metavar="ACTION", required=True)

    def action(
        name: str, handler: Callable[[argparse.Namespace], int], **kw: Any
    ) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, **kw)
        if name != "create":
            add_dsn_option(parser, inherited=True)
        add_dir_option(parser, inherited=True)
        parser.set_defaults(handler=handler)
        return parser

    up = action("up", cmd_migrate_up, help="apply pending migrations")
    up.add_argument(
        "--target", type=_non_negative, metavar="N", help="stop after migration number N"
    )
    down = action("down", cmd_migrate_down, help="roll back the most recent migrations")
    down.add_argument(
        "steps", nargs="?", type=_non_negative, default=1, metavar="N", help="how many (default 1)"
    )
    action("status", cmd_migrate_status, help="list migrations and whether they are applied")
    create = action("create", cmd_migrate_create, help="write an empty up/down pair")
    create.add_argument("name", help="lowercase letters, digits and _, e.g. add_chat_labels")


def _migrator(args: argparse.Namespace) -> Migrator:
    return Migrator(require_dsn(args), args.dir)


def cmd_migrate_up(args: argparse.Namespace) -> int:
    migrator = _migrator(args)
    applied = migrator.up(target=args.target)  # each one is logged as it is applied
    version = migrator.current_version()
    print(f"at version {version}" if applied else f"nothing to apply (at version {version})")
    return 0


def cmd_migrate_down(args: argparse.Namespace) -> int:
    migrator = _migrator(args)
    rolled_back = migrator.down(args.steps)
    version = migrator.current_version()
    print(
        f"at version {version}" if rolled_back else f"nothing to roll back (at version {version})"
    )
    return 0


def cmd_migrate_status(args: argparse.Namespace) -> int:
    migrator = _migrator(args)
    rows = migrator.status()
    if not rows:
        print(f"no migrations in {migrator.directory}")
        return 0
    width = max(6, *(len(r.name) for r in rows))
    print(f"{'VERSION':<8} {'NAME':<{width}}  {'STATUS':<8} APPLIED AT")
    for r in rows:
        state = "applied" if r.applied else "pending"
        at = r.applied_at.isoformat(sep=" ", timespec="seconds") if r.applied_at else ""
        note = "  (file missing)" if r.file_missing else ""
        print(f"{r.version:06d}   {r.name:<{width}}  {state:<8} {at}{note}".rstrip())
    print(f"current version: {max((r.version for r in rows if r.applied), default=0)}")
    return 0


def cmd_migrate_create(args: argparse.Namespace) -> int:
    directory = args.dir if args.dir is not None else default_migrations_dir()
    for path in create_migration(directory, args.name):
        print(f"created {path}")
    return 0


# --- entry point -------------------------------------------------------------------------------

COMMANDS: list[Callable[[Subcommands], None]] = [add_migrate_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatdb",
        description="chatdb: the PostgreSQL data layer of the chat service.",
    )
    commands = parser.add_subparsers(metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def _one_line(exc: BaseException) -> str:
    """The error as one line: the failing statement (if any) squeezed and shortened."""
    if isinstance(exc, MigrationError):
        text = str(exc).splitlines()[0] if str(exc) else exc.message
        if exc.statement:
            statement = " ".join(exc.statement.split())
            if len(statement) > 120:
                statement = statement[:117] + "..."
            text += f" [in: {statement}]"
        return text
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip())


def _fail(message: str, status: int) -> int:
    print(f"chatdb: error: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    progress = logging.StreamHandler(sys.stdout)
    progress.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("chatdb.migrate")
    previous_level = log.level
    log.addHandler(progress)
    log.setLevel(logging.INFO)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except ChatDBError as exc:
        return _fail(_one_line(exc), 1)
    except OSError as exc:
        return _fail(_one_line(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    finally:
        log.removeHandler(progress)
        log.setLevel(previous_level)
