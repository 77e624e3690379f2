"""Testing support for chatdb and for services built on it: a throwaway PostgreSQL and fixtures."""

from chatdb.testing.pgserver import PgServer, PgServerError, start_server, throwaway_server

__all__ = ["PgServer", "PgServerError", "start_server", "throwaway_server"]
