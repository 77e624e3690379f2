"""The throwaway PostgreSQL codegen compiles against: the test kit's (``chatdb.testing.pgserver``).

The server lives with the test kit, which ships in the runtime wheel; the code generator is a
development tool that is not shipped and uses it from there.
"""

from chatdb.testing.pgserver import (
    ENV_DSN,
    ENV_PG_CTL,
    ENV_RUN_AS,
    ENV_TMPDIR,
    PgServer,
    PgServerError,
    find_pg_ctl,
    start_server,
    throwaway_server,
)

__all__ = [
    "ENV_DSN",
    "ENV_PG_CTL",
    "ENV_RUN_AS",
    "ENV_TMPDIR",
    "PgServer",
    "PgServerError",
    "find_pg_ctl",
    "start_server",
    "throwaway_server",
]
