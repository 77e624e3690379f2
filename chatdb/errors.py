"""The typed errors chatdb raises, and the mapping from driver errors to them.

Callers catch these, never ``psycopg`` exceptions: every driver error that crosses a chatdb
boundary goes through :func:`classify`.

Errors never carry a secret: the server's row detail ("Failing row contains (...)", "Key
(...)=(...)") is dropped from errors on tables that hold secret columns, from the chatdb error
and from the driver error chained to it alike.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pgerr
from psycopg.pq import DiagnosticField


class ChatDBError(Exception):
    """Base of every error chatdb raises."""


class NotFound(ChatDBError):
    """A `:one` query (or a lookup) found no row."""

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        super().__init__(f"{what}: not found" + (f" ({detail})" if detail else ""))


class NotAuthorized(ChatDBError):
    """The actor may not perform this action. Distinct from NotFound; callers may map both to 404."""

    def __init__(
        self, message: str = "not authorized", *, action: str = "", object: str = ""
    ) -> None:
        self.action = action
        self.object = object
        super().__init__(message)


class InvalidInput(ChatDBError):
    """The caller passed a value that fails validation; nothing was written."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class InvalidActor(InvalidInput, TypeError):
    """The actor is not a :class:`chatdb.authz.Subject` (a programming error, refused typed;
    still a TypeError for callers that catch that)."""

    def __init__(self, where: str, actor: object) -> None:
        super().__init__(f"{where} needs a Subject, got {type(actor).__name__}", field="actor")


class Conflict(ChatDBError):
    """The request conflicts with the current state (wrong status, already done, ...)."""


class ChatArchived(InvalidInput):
    """The chat is archived and refuses mutations."""

    def __init__(self, chat_id: object) -> None:
        self.chat_id = chat_id
        super().__init__(f"chat {chat_id} is archived", field="chat_id")


class DatabaseError(ChatDBError):
    """A database error, classified. ``sqlstate`` and the server's message are kept."""

    def __init__(self, message: str, *, sqlstate: str | None = None, query: str = "") -> None:
        self.sqlstate = sqlstate
        self.query = query
        super().__init__(f"{query}: {message}" if query else message)


class ConnectionFailure(DatabaseError):
    """The server could not be reached or the connection broke.

    Raised inside a transaction it means the transaction did not commit (see
    :class:`CommitOutcomeUnknown` for the one exception): :meth:`chatdb.store.Store.in_tx`
    re-runs the function once on a fresh connection.
    """


class ServerUnreachable(ConnectionFailure):
    """No connection could be made; the message names the cause (refused, unknown role, bad
    connection string, ...), never a password. ``in_tx`` does not retry it: the pool already
    waited its ``timeout`` for a connection."""


class CommitOutcomeUnknown(ConnectionFailure):
    """The connection broke while COMMIT was in flight: the transaction may or may not have
    committed. Never retried automatically; the caller has to look before doing it again."""


class RetryableError(DatabaseError):
    """Serialization failure or deadlock: the transaction may succeed if retried."""


class SerializationFailure(RetryableError):
    pass


class DeadlockDetected(RetryableError):
    pass


class InvalidValue(DatabaseError, InvalidInput):
    """The server rejected a value (bad enum label, bad text representation, out of range)."""

    def __init__(self, message: str, *, sqlstate: str | None = None, query: str = "") -> None:
        DatabaseError.__init__(self, message, sqlstate=sqlstate, query=query)
        self.field = ""


class UnencryptedSecret(DatabaseError, InvalidInput):
    """A secret was about to be stored in clear while a dbcrypt key is active (nothing written).

    Raised by the database itself (sqlstate :data:`SQLSTATE_UNENCRYPTED_SECRET`), so no writer
    can get around it; ``table`` and ``field`` name the column, never its value.
    """

    def __init__(self, message: str, *, table: str = "", column: str = "", query: str = "") -> None:
        DatabaseError.__init__(self, message, sqlstate=SQLSTATE_UNENCRYPTED_SECRET, query=query)
        self.table = table
        self.field = column


SQLSTATE_UNENCRYPTED_SECRET = "SC001"
"""Raised by ``chatdb_refuse_clear_secret()`` (migration 000033)."""


class ConstraintViolation(DatabaseError):
    """An integrity constraint refused the write. ``constraint`` names it."""

    def __init__(
        self,
        message: str,
        *,
        constraint: str | None = None,
        table: str | None = None,
        column: str | None = None,
        sqlstate: str | None = None,
        query: str = "",
    ) -> None:
        self.constraint = constraint
        self.table = table
        self.column = column
        super().__init__(message, sqlstate=sqlstate, query=query)


class UniqueViolation(ConstraintViolation, Conflict):
    pass


class ForeignKeyViolation(ConstraintViolation, InvalidInput):
    pass


class CheckViolation(ConstraintViolation, InvalidInput):
    pass


class FileTooLarge(CheckViolation):
    """A chat file is larger than the 100 MB limit (``chat_files_data_size_check``).

    Raised before the bytes are sent when the caller goes through a workflow, and for the
    database's CHECK on any other path.
    """

    CONSTRAINT = "chat_files_data_size_check"
    LIMIT_BYTES = 100 * 1024 * 1024

    def __init__(self, *, size: int | None = None, query: str = "") -> None:
        self.size = size
        super().__init__(
            f"a chat file holds at most {self.LIMIT_BYTES} bytes (100 MB)"
            + (f", this one has {size}" if size is not None else ""),
            constraint=self.CONSTRAINT,
            table="chat_files",
            column="data",
            sqlstate="23514",
            query=query,
        )
        self.field = "data"


class NotNullViolation(ConstraintViolation, InvalidInput):
    pass


class ExclusionViolation(ConstraintViolation, Conflict):
    pass


_CONSTRAINT_CLASSES: dict[type[psycopg.Error], type[ConstraintViolation]] = {
    pgerr.UniqueViolation: UniqueViolation,
    pgerr.ForeignKeyViolation: ForeignKeyViolation,
    pgerr.CheckViolation: CheckViolation,
    pgerr.NotNullViolation: NotNullViolation,
    pgerr.ExclusionViolation: ExclusionViolation,
}


# admin_shutdown, crash_shutdown, cannot_connect_now: the server went away under us.
_CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_connection_loss(exc: BaseException) -> bool:
    """Whether a driver error means the connection is gone (or never was): sqlstate class 08,
    57P01-57P03, or a client-side failure with no sqlstate at all."""
    if not isinstance(exc, psycopg.Error):
        return False
    sqlstate = exc.sqlstate
    if sqlstate is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return sqlstate.startswith("08") or sqlstate in _CONNECTION_SQLSTATES


def classify(exc: BaseException, query: str = "") -> ChatDBError:
    """Turn a driver error into the matching chatdb error (``query`` names the statement)."""
    if isinstance(exc, ChatDBError):
        return exc
    if not isinstance(exc, psycopg.Error):
        return DatabaseError(f"{type(exc).__name__}: {exc}", query=query)
    diag = exc.diag
    sqlstate = exc.sqlstate
    message = (diag.message_primary or str(exc)).strip()
    if _holds_secrets(diag.table_name):
        _drop_detail(exc)
    elif diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    if sqlstate == SQLSTATE_UNENCRYPTED_SECRET:
        return UnencryptedSecret(
            message, table=diag.table_name or "", column=diag.column_name or "", query=query
        )
    if isinstance(exc, pgerr.CheckViolation) and diag.constraint_name == FileTooLarge.CONSTRAINT:
        return FileTooLarge(query=query)
    for driver_cls, ours in _CONSTRAINT_CLASSES.items():
        if isinstance(exc, driver_cls):
            return ours(
                message,
                constraint=diag.constraint_name,
                table=diag.table_name,
                column=diag.column_name,
                sqlstate=sqlstate,
                query=query,
            )
    if isinstance(exc, pgerr.SerializationFailure):
        return SerializationFailure(message, sqlstate=sqlstate, query=query)
    if isinstance(exc, pgerr.DeadlockDetected):
        return DeadlockDetected(message, sqlstate=sqlstate, query=query)
    if isinstance(exc, psycopg.DataError) or (sqlstate or "").startswith("22"):
        return InvalidValue(message, sqlstate=sqlstate, query=query)
    if is_connection_loss(exc):
        return ConnectionFailure(message, sqlstate=sqlstate, query=query)
    if isinstance(exc, psycopg.InterfaceError):
        return ConnectionFailure(message, query=query)
    return DatabaseError(message, sqlstate=sqlstate, query=query)


def _holds_secrets(table: str | None) -> bool:
    # Imported here: chatdb.db (generated) imports this module, so it cannot be imported above.
    from chatdb.db.secrets import SECRET_TABLES

    return table is not None and table in SECRET_TABLES


# What an error on a secret-bearing table keeps: names and codes, never values.
_SAFE_FIELDS = {
    DiagnosticField.SEVERITY: "severity",
    DiagnosticField.SEVERITY_NONLOCALIZED: "severity_nonlocalized",
    DiagnosticField.SQLSTATE: "sqlstate",
    DiagnosticField.MESSAGE_PRIMARY: "message_primary",
    DiagnosticField.MESSAGE_HINT: "message_hint",
    DiagnosticField.SCHEMA_NAME: "schema_name",
    DiagnosticField.TABLE_NAME: "table_name",
    DiagnosticField.COLUMN_NAME: "column_name",
    DiagnosticField.DATATYPE_NAME: "datatype_name",
    DiagnosticField.CONSTRAINT_NAME: "constraint_name",
}


def _drop_detail(exc: psycopg.Error) -> None:
    """Rebuild the driver error without the row detail (it stays chained as ``__cause__``).

    Its text (``str``/``args``) becomes the primary message only, and its diagnostics keep only
    :data:`_SAFE_FIELDS` (the result that carried the detail is released).
    """
    diag = exc.diag
    info: dict[int, bytes | None] = {}
    for code, name in _SAFE_FIELDS.items():
        value = getattr(diag, name)
        if value is not None:
            info[code] = value.encode()
    primary = diag.message_primary or type(exc).__name__
    psycopg.Error.__init__(exc, primary, info=info, pgconn=exc.pgconn)
