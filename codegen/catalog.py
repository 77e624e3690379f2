"""What the live server knows: types, enums, tables and columns, and each query's description.

Types come from PostgreSQL itself: every query is prepared on a database holding the schema and
the protocol's describe gives its parameter and result types (as sqlx and pgtyped do).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pglast.parser import ParseError, split
from psycopg import pq, sql

from codegen.errors import CodegenError, Location


@dataclass(frozen=True)
class PgType:
    oid: int
    name: str  # e.g. "int8", "chat_status"
    schema: str
    kind: str  # typtype: b base, e enum, d domain, c composite, p pseudo, r range
    elem: int  # element type oid for arrays (0 otherwise)
    base: int  # base type oid for domains (0 otherwise)
    category: str  # typcategory: A array, ...


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    not_null: bool
    number: int  # attnum
    has_default: bool


@dataclass
class Table:
    oid: int
    schema: str
    name: str
    kind: str  # relkind
    columns: list[Column] = field(default_factory=list)
    definition: str = ""  # a view's SELECT (pg_get_viewdef)
    system: bool = False  # a pg_catalog / information_schema relation
    analyzed: bool = False  # a view whose columns' nullability was inferred
    reltype: int = 0  # the oid of its row (composite) type
    primary_key: tuple[str, ...] = ()

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


@dataclass(frozen=True)
class Proc:
    """One function overload, as far as nullability cares."""

    nargs: int
    ndefaults: int
    variadic: bool
    strict: bool  # NULL in any argument -> NULL out
    retset: bool  # set-returning
    kind: str  # prokind: f function, a aggregate, w window, p procedure
    builtin: bool  # written in C/internal (not SQL or PL/pgSQL: those may return NULL at will)
    src: str  # the C symbol (prosrc) for built-ins
    argtypes: list[int]


@dataclass
class Catalog:
    types: dict[int, PgType]
    enums: dict[int, list[str]]  # type oid -> labels in order
    tables: dict[int, Table]  # relation oid -> table
    by_name: dict[str, Table]  # "name" and "schema.name" -> table
    conn: Any = None  # for what is read lazily: functions, system relations, CHECKs
    _procs: dict[str, list[Proc]] = field(default_factory=dict)
    _checks: dict[int, list[str]] = field(default_factory=dict)
    _system: dict[str, Table | None] = field(default_factory=dict)
    # (table oid, column) -> oid of the table whose single-column primary key it references
    foreign_keys: dict[tuple[int, str], int] = field(default_factory=dict)
    primary_keys: dict[int, str] = field(default_factory=dict)  # table oid -> its one-column key

    def table(self, name: str) -> Table | None:
        key = name.lower()
        found = self.by_name.get(key)
        if found is None and self.conn is not None:
            if key not in self._system:
                self._system[key] = self._system_table(key)
            found = self._system[key]
        return found

    def _system_table(self, name: str) -> Table | None:
        """A pg_catalog / information_schema relation (read on first use)."""
        schema, _, rel = name.rpartition(".")
        # information_schema is not on the search path; every pg_catalog relation is pg_*.
        if schema not in ("pg_catalog", "information_schema") and not (
            schema == "" and rel.startswith("pg_")
        ):
            return None
        schemas = [schema] if schema else ["pg_catalog"]
        row = self.conn.execute(
            """SELECT c.oid, n.nspname, c.relkind,
                      CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) ELSE '' END
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relname = %s AND n.nspname = ANY(%s) AND c.relkind IN ('r', 'v')""",
            (rel, schemas),
        ).fetchone()
        if row is None:
            return None
        table = Table(row[0], row[1], rel, row[2], definition=row[3])
        for col, typ, not_null, num, has_default in self.conn.execute(
            """SELECT attname, atttypid, attnotnull, attnum, atthasdef FROM pg_attribute
               WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
            (row[0],),
        ):
            table.columns.append(Column(col, typ, not_null, num, has_default))
        table.system = True
        return table

    def procs(self, name: str, schema: str | None = None) -> list[Proc]:
        """Every overload of the function ``name`` (all of pg_proc is read on first use)."""
        if not self._procs and self.conn is not None:
            for row in self.conn.execute(
                """SELECT p.proname, n.nspname, p.pronargs, p.pronargdefaults, p.provariadic <> 0,
                          p.proisstrict, p.proretset, p.prokind,
                          p.prolang IN (12, 13), -- internal, c
                          CASE WHEN p.prolang IN (12, 13) THEN p.prosrc ELSE '' END,
                          p.proargtypes::oid[]
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"""
            ):
                (
                    proname,
                    nspname,
                    nargs,
                    ndef,
                    variadic,
                    strict,
                    retset,
                    kind,
                    builtin,
                    src,
                    args,
                ) = row
                proc = Proc(nargs, ndef, variadic, strict, retset, kind, builtin, src, args)
                self._procs.setdefault(proname, []).append(proc)
                self._procs.setdefault(f"{nspname}.{proname}", []).append(proc)
        return self._procs.get(f"{schema}.{name}" if schema else name, [])

    def checks(self, table_oid: int) -> list[str]:
        """The CHECK constraint expressions of a table (read on first use)."""
        found = self._checks.get(table_oid)
        if found is None:
            found = []
            if self.conn is not None:
                found = [
                    r[0]
                    for r in self.conn.execute(
                        """SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint
                           WHERE conrelid = %s AND contype = 'c' ORDER BY conname""",
                        (table_oid,),
                    )
                ]
            self._checks[table_oid] = found
        return found


_USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
)


def load_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Read types, enums, and user tables/views with their columns."""
    types: dict[int, PgType] = {}
    for oid, name, schema, kind, elem, base, category in conn.execute(
        """SELECT t.oid, t.typname, n.nspname, t.typtype, t.typelem, t.typbasetype, t.typcategory
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"""
    ):
        types[oid] = PgType(oid, name, schema, kind, elem if category == "A" else 0, base, category)
    enums: dict[int, list[str]] = {}
    for typ, label in conn.execute(
        "SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder"
    ):
        enums.setdefault(typ, []).append(label)
    tables: dict[int, Table] = {}
    for oid, schema, name, kind, reltype in conn.execute(
        f"""SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltype FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND {_USER_SCHEMAS}
            ORDER BY n.nspname, c.relname"""
    ):
        tables[oid] = Table(oid, schema, name, kind, reltype=reltype)
    for rel, name, typ, not_null, num, has_default in conn.execute(
        f"""SELECT a.attrelid, a.attname, a.atttypid, a.attnotnull, a.attnum, a.atthasdef
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attnum > 0 AND NOT a.attisdropped
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
              AND {_USER_SCHEMAS}
            ORDER BY a.attrelid, a.attnum"""
    ):
        tables[rel].columns.append(Column(name, typ, not_null, num, has_default))
    for oid, definition in conn.execute(
        f"""SELECT c.oid, pg_get_viewdef(c.oid) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND {_USER_SCHEMAS} ORDER BY c.oid"""
    ):
        tables[oid].definition = definition
    for oid, columns in conn.execute(
        f"""SELECT c.oid, array_agg(a.attname::text ORDER BY k.ord)
            FROM pg_constraint p JOIN pg_class c ON c.oid = p.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k (attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE p.contype = 'p' AND {_USER_SCHEMAS}
            GROUP BY c.oid ORDER BY c.oid"""
    ):
        if oid in tables:
            tables[oid].primary_key = tuple(columns)
    by_name: dict[str, Table] = {}
    for table in tables.values():
        if table.kind == "c":  # a composite type: a type, not a relation queries can read
            continue
        by_name[f"{table.schema}.{table.name}".lower()] = table
        if table.schema == "public" or table.name.lower() not in by_name:
            by_name[table.name.lower()] = table
    primary_keys: dict[int, str] = {}
    for rel, column in conn.execute(
        f"""SELECT c.conrelid, a.attname FROM pg_constraint c
            JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'p' AND cardinality(c.conkey) = 1 AND {_USER_SCHEMAS}"""
    ):
        primary_keys[rel] = column
    # Each column of a foreign key that lands on the referenced table's primary key: that
    # column names a row (a composite key's other columns only restate the row's attributes).
    foreign_keys: dict[tuple[int, str], int] = {}
    for rel, column, target, target_column in conn.execute(
        f"""SELECT c.conrelid, a.attname, c.confrelid, fa.attname
            FROM pg_constraint c
            JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(attnum, fattnum)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
            JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.fattnum
            WHERE c.contype = 'f' AND {_USER_SCHEMAS}
            ORDER BY c.conrelid, a.attname, c.confrelid"""
    ):
        if primary_keys.get(target) == target_column:
            foreign_keys[(rel, column)] = target
    return Catalog(
        types, enums, tables, by_name, conn, foreign_keys=foreign_keys, primary_keys=primary_keys
    )


@dataclass(frozen=True)
class Field:
    name: str
    type_oid: int
    table_oid: int
    table_column: int


@dataclass(frozen=True)
class Description:
    param_types: list[int]
    fields: list[Field]


def describe(conn: psycopg.Connection[Any], sql: str, loc: Location) -> Description:
    """Prepare ``sql`` (unnamed statement) and read parameter and result types from the server."""
    pgconn = conn.pgconn
    result = pgconn.prepare(b"", sql.encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise _server_error(result, sql, loc)
    desc = pgconn.describe_prepared(b"")
    if desc.status != pq.ExecStatus.COMMAND_OK:
        raise _server_error(desc, sql, loc)
    params = [desc.param_type(i) for i in range(desc.nparams)]
    fields = [
        Field(
            (desc.fname(i) or b"").decode(),
            desc.ftype(i),
            desc.ftable(i),
            desc.ftablecol(i),
        )
        for i in range(desc.nfields)
    ]
    return Description(params, fields)


def _server_error(result: pq.abc.PGresult, sql: str, loc: Location) -> CodegenError:
    message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode()
    message = message or (result.error_message or b"").decode().strip()
    hint = (result.error_field(pq.DiagnosticField.MESSAGE_HINT) or b"").decode()
    position = result.error_field(pq.DiagnosticField.STATEMENT_POSITION)
    line = loc.line
    if position and loc.sql_line:
        offset = int(position) - 1
        line = loc.sql_line + sql.count("\n", 0, offset)
    text = f"server: {message}" + (f" (hint: {hint})" if hint else "")
    return CodegenError(text, loc.at(line))


_MIGRATION_NAME = re.compile(r"^(\d+)_")
_PSQL_META = re.compile(r"^\\[a-zA-Z!?].*$", re.M)


def schema_files(source: Path) -> list[Path]:
    """The schema's .sql files in apply order; ``*.down.sql`` migrations are ignored."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise CodegenError(f"{source}: schema source not found")
    files = [p for p in source.iterdir() if p.suffix == ".sql" and not p.name.endswith(".down.sql")]

    def key(p: Path) -> tuple[int, str]:
        m = _MIGRATION_NAME.match(p.name)
        return (int(m.group(1)) if m else 0, p.name)

    files.sort(key=key)
    if not files:
        raise CodegenError(f"{source}: no .sql schema files")
    return files


# Where a migration tool's down section starts (sqlc drops the rest of the file likewise):
# goose, sql-migrate, dbmate, tern.
_ROLLBACK = re.compile(
    r"^\s*(?:--\s*\+goose\s+down|--\s*\+migrate\s+down|--\s*migrate:down"
    r"|----\s*create above\s*/\s*drop below\s*----)",
    re.M | re.I,
)
_OWN_TRANSACTIONS = re.compile(
    r"^\s*(?:BEGIN|COMMIT|START\s+TRANSACTION|END)\s*;|\bCONCURRENTLY\b", re.M | re.I
)
_MISSING_ROLE = re.compile(r'role "([^"]+)" does not exist')


def schema_text(path: Path) -> str:
    """A schema file as the server should run it: without psql meta-commands (`\\restrict`
    in recent pg_dump output, `\\connect`...) and without a migration's down section."""
    text = _PSQL_META.sub("", path.read_text())
    down = _ROLLBACK.search(text)
    return text[: down.start()] if down else text


def apply_schema(conn: psycopg.Connection[Any], files: list[Path]) -> None:
    """Run every schema file in order; an error names the file and line.

    A file runs as one transaction; if that fails it runs statement by statement (what psql
    does: BEGIN/COMMIT in the file, CREATE INDEX CONCURRENTLY, a new enum value used later),
    creating the roles a dump grants to or makes owners, so that only real errors remain.
    """
    for path in files:
        text = schema_text(path)
        if _OWN_TRANSACTIONS.search(text):  # its COMMIT would end ours half-way
            _apply_statements(conn, path, text, None)
            continue
        try:
            with conn.transaction():
                conn.execute(text.encode())  # simple protocol: many statements, no params
        except psycopg.Error as exc:
            _apply_statements(conn, path, text, exc)
    # A dump sets search_path to '' (pg_catalog.set_config); queries resolve names as usual.
    conn.execute("RESET search_path")


def _apply_statements(
    conn: psycopg.Connection[Any], path: Path, text: str, first: psycopg.Error | None
) -> None:
    try:
        slices = split(text, with_parser=True, only_slices=True)
    except ParseError as exc:
        if first is not None:
            raise _schema_error(path, text, 0, first) from first
        raise CodegenError(f"schema: syntax error: {exc}", Location(path, 1)) from exc
    created: set[str] = set()
    for part in slices:
        statement = text[part].encode()
        while True:
            try:
                conn.execute(statement)
                break
            except psycopg.Error as exc:
                if conn.info.transaction_status == pq.TransactionStatus.INERROR:
                    conn.execute("ROLLBACK")
                missing = _MISSING_ROLE.search(exc.diag.message_primary or "")
                if missing is None or missing.group(1) in created:
                    raise _schema_error(path, text, part.start, exc) from exc
                # A dump's owner or grantee: create it (once; then the statement runs on).
                created.add(missing.group(1))
                role = sql.Identifier(missing.group(1))
                with contextlib.suppress(psycopg.errors.DuplicateObject):  # a shared server
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))


def _schema_error(path: Path, text: str, offset: int, exc: psycopg.Error) -> CodegenError:
    pos = exc.diag.statement_position
    at = offset + (int(pos) - 1 if pos else 0)
    line = 1 + text.count("\n", 0, at)
    return CodegenError(f"schema: server: {exc.diag.message_primary or exc}", Location(path, line))
