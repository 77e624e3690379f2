"""The ``chatdb`` command line: ``migrate``, ``schema``, ``gen``, ``check`` and ``demo``.

Each command group is one ``add_*`` function that builds its argparse sub-parser and sets a
``handler`` (``Namespace -> int``); :data:`COMMANDS` lists them, so a new group is one more
function appended there. User mistakes end in a one-line ``chatdb: error: ...`` on stderr and
exit status 1 (2 for usage errors), never a traceback.

``gen`` and ``check`` need the development extras (``pip install 'chatdb[dev]'``: pglast for
PostgreSQL's parser); ``schema`` without ``--dsn`` and ``demo`` start a throwaway PostgreSQL,
which needs the server binaries and pytest-postgresql, or ``$CHATDB_PG_DSN`` pointing at a
server to create scratch databases on.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import psycopg
from psycopg.conninfo import conninfo_to_dict

from chatdb.errors import ChatDBError, classify
from chatdb.migrate import (
    MigrationError,
    Migrator,
    create_migration,
    default_migrations_dir,
)
from chatdb.testing.pgserver import ENV_DSN as ENV_PG_DSN
from chatdb.testing.pgserver import PgServer, PgServerError

__all__ = [
    "COMMANDS",
    "ENV_DSN",
    "CommandError",
    "Subcommands",
    "UsageError",
    "add_check_command",
    "add_demo_command",
    "add_dir_option",
    "add_dsn_option",
    "add_gen_command",
    "add_migrate_command",
    "add_schema_command",
    "build_parser",
    "main",
    "require_dsn",
]

ENV_DSN = "CHATDB_DSN"

# What ``add_subparsers()`` returns; each command group adds its parser to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(Exception):
    """The command line is incomplete in a way argparse cannot see (exit status 2)."""


class CommandError(Exception):
    """The command cannot run here, e.g. an optional dependency is missing (exit status 1)."""


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
    migrate.set_defaults(migration_progress=True)
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


# --- chatdb schema -----------------------------------------------------------------------------

_SCHEMA_EXAMPLES = f"""\
examples:
  chatdb schema                          # what the migrations build (a scratch database)
  chatdb schema -o sql/schema.sql
  chatdb schema --dir my/migrations
  chatdb schema --dsn postgresql://app@localhost/chat   # a live database, as it is

Without --dsn the migrations are applied to a scratch database on a throwaway PostgreSQL
(or on the server of ${ENV_PG_DSN}, when set), which is dropped afterwards.
"""


def add_schema_command(subparsers: Subcommands) -> None:
    """``chatdb schema``: print the fully migrated schema."""
    schema = subparsers.add_parser(
        "schema",
        help="print the schema the migrations build (or a live database's)",
        description=(
            "Print the schema as SQL (pg_dump --schema-only, without volatile lines and "
            "without the schema_migrations bookkeeping table): the same text as sql/schema.sql."
        ),
        epilog=_SCHEMA_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema.add_argument(
        "--dsn", help="dump this database instead of migrating a scratch one (not $CHATDB_DSN)"
    )
    add_dir_option(schema)
    schema.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )
    schema.set_defaults(handler=cmd_schema)


def _check_reachable(dsn: str) -> None:
    """Connect once, so a bad or unreachable database is a classified one-line error."""
    try:
        timeout: dict[str, Any] = (
            {} if "connect_timeout" in conninfo_to_dict(dsn) else {"connect_timeout": 10}
        )
        with psycopg.connect(dsn, autocommit=True, **timeout):
            pass
    except psycopg.Error as exc:
        raise classify(exc) from exc


@contextlib.contextmanager
def scratch_server() -> Iterator[PgServer]:
    """A throwaway server (or ``$CHATDB_PG_DSN``'s), stopped at the end."""
    from chatdb.testing.pgserver import start_server

    try:
        server = start_server()
    except ImportError as exc:
        raise PgServerError(
            f"starting a throwaway PostgreSQL needs the dev extras ({exc.name} is missing): "
            f"pip install 'chatdb[dev]', or set {ENV_PG_DSN}"
        ) from None
    try:
        yield server
    finally:
        server.stop()


def _require_codegen() -> None:
    """The code generator is a development tool: it is not in the chatdb wheel."""
    if importlib.util.find_spec("codegen") is None:
        raise CommandError(
            "this command needs the code generator, a development tool that is not part of "
            "the installed chatdb package: run it from a chatdb checkout (make install)"
        )


def cmd_schema(args: argparse.Namespace) -> int:
    _require_codegen()
    from codegen.schemadump import dump_schema

    exclude = ("public.schema_migrations",)
    if args.dsn:
        _check_reachable(args.dsn)
        text = dump_schema(args.dsn, exclude_tables=exclude)
    else:
        migrator = Migrator("", args.dir)
        migrator.migrations()  # a missing or malformed directory fails before a server starts
        with scratch_server() as server:
            name = server.create_database()
            try:
                Migrator(server.dsn(name), args.dir).up()
                text = dump_schema(server.dsn(name), exclude_tables=exclude)
            finally:
                server.drop_database(name)
    if args.output is not None:
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --- chatdb gen / check ------------------------------------------------------------------------


def _add_codegen_options(parser: argparse.ArgumentParser) -> None:
    try:
        from codegen.config import add_options  # needs no dev extras: only the flags
    except ImportError:  # an installed wheel: the command explains when run
        return
    add_options(parser)


_CODEGEN_NOTE = (
    "Compiles the sqlc-style query files against the migrated schema on a throwaway "
    f"PostgreSQL (or ${ENV_PG_DSN}'s server). Needs the dev extras: pip install 'chatdb[dev]'."
)


def add_gen_command(subparsers: Subcommands) -> None:
    """``chatdb gen``: regenerate the typed query package (``make gen``)."""
    gen = subparsers.add_parser(
        "gen",
        help="regenerate the typed query layer from sql/ (make gen)",
        description="Write the generated package, authz wrapper, schema dump and query docs. "
        + _CODEGEN_NOTE,
        epilog="examples:\n  chatdb gen\n  chatdb gen --schema db/migrations --queries db/queries"
        " --out app/db --no-authz",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_codegen_options(gen)
    gen.set_defaults(handler=cmd_gen)


def add_check_command(subparsers: Subcommands) -> None:
    """``chatdb check``: fail when the committed generated code is stale (CI)."""
    check = subparsers.add_parser(
        "check",
        help="exit 1 when the committed generated code is stale",
        description="Exit 1, listing the stale files, when what `chatdb gen` would write "
        "differs from the files on disk; writes nothing (run it in CI). " + _CODEGEN_NOTE,
        epilog="examples:\n  chatdb check\n  chatdb check --config services/chat/pyproject.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_codegen_options(check)
    check.set_defaults(handler=cmd_check)


def _codegen(args: argparse.Namespace) -> tuple[Any, dict[Path, str]]:
    """The codegen config and every output it would write."""
    _require_codegen()
    try:
        import pglast  # noqa: F401  (only to tell a missing dev install apart)
    except ImportError:
        raise CommandError(
            "the code generator needs the dev extras (pglast is missing): pip install 'chatdb[dev]'"
        ) from None
    from codegen.config import config_from_args
    from codegen.main import generate

    config = config_from_args(args)
    return config, generate(config)


def cmd_gen(args: argparse.Namespace) -> int:
    _require_codegen()
    from codegen.main import write

    config, outputs = _codegen(args)
    changed = write(config, outputs)
    for path in changed:
        print(f"wrote {config.rel(path)}")
    if not changed:
        print(f"up to date ({len(outputs)} files)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    _require_codegen()
    from codegen.main import check

    config, outputs = _codegen(args)
    problems = check(config, outputs)
    for problem in problems:
        print(f"chatdb: {problem}", file=sys.stderr)
    if problems:
        print("chatdb: error: generated code is stale: run `chatdb gen`", file=sys.stderr)
        return 1
    print(f"generated code is up to date ({len(outputs)} files)")
    return 0


# --- chatdb demo -------------------------------------------------------------------------------


def add_demo_command(subparsers: Subcommands) -> None:
    """``chatdb demo``: a narrated agent session on a throwaway database (``make demo``)."""
    demo = subparsers.add_parser(
        "demo",
        help="walk through an agent session on a throwaway database",
        description=(
            "Start a throwaway PostgreSQL, migrate it, and run a realistic agent session "
            "through the authorized API (people and roles, providers and prices, a chat with "
            "a sub-agent, queued messages and a model switch, a client-side tool call, pins, "
            "archiving, an authorization refusal, the cost summary), printing what happens. "
            f"Everything is removed at the end. With ${ENV_PG_DSN} set, a scratch database on "
            "that server is used instead of a new server."
        ),
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from chatdb import demo

    demo.run(sys.stdout)
    return 0


# --- entry point -------------------------------------------------------------------------------

COMMANDS: list[Callable[[Subcommands], None]] = [
    add_migrate_command,
    add_schema_command,
    add_gen_command,
    add_check_command,
    add_demo_command,
]


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
    if _codegen_errors():
        from codegen.errors import CodegenErrors

        if isinstance(exc, CodegenErrors) and len(exc.errors) > 1:  # one line each, a summary
            return "\n".join([*map(str, exc.errors), exc.summary()])
    return " ".join(part.strip() for part in str(exc).splitlines() if part.strip())


def _codegen_errors() -> tuple[type[Exception], ...]:
    """The code generator's error type, when the code generator is installed."""
    if importlib.util.find_spec("codegen") is None:
        return ()
    from codegen.errors import CodegenError

    return (CodegenError,)


def _reported() -> tuple[type[Exception], ...]:
    """The errors main reports on one line (exit status 1)."""
    return (ChatDBError, CommandError, PgServerError, OSError, *_codegen_errors())


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
    try:
        with _migration_progress(getattr(args, "migration_progress", False)):
            handler: Callable[[argparse.Namespace], int] = args.handler
            return handler(args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except BrokenPipeError:  # `chatdb schema | head`: the reader is gone, nothing to report
        _silence_stdout()
        return 141
    except _reported() as exc:
        return _fail(_one_line(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def _migration_progress(enabled: bool) -> Iterator[None]:
    """Print each applied migration on stdout (the ``migrate`` commands only)."""
    if not enabled:
        yield
        return
    progress = logging.StreamHandler(sys.stdout)
    progress.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("chatdb.migrate")
    previous_level = log.level
    log.addHandler(progress)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(progress)
        log.setLevel(previous_level)
