"""Compiler configuration: the ``[tool.codegen]`` section of pyproject.toml, or flags.

Example::

    [tool.codegen]
    schema = "sql/migrations"        # a directory of migrations (down files ignored) or .sql files
    queries = "sql/queries"          # a file or a directory of query files
    out = "myapp/db"                 # output package directory
    authz = true                     # every query needs an `-- authz:` line
    schema_dump = "sql/schema.sql"   # optional: write a schema dump of the migrated database
    docs = "docs/queries.md"         # optional: write a query reference

    [tool.codegen.overrides.columns]
    "chats.labels" = { type = "dict[str, str]" }
    "events.payload" = { type = "Payload", imports = ["myapp.models:Payload"],
                         decode = "myapp.models:load_payload", encode = "myapp.models:dump_payload" }

    [tool.codegen.overrides.types]
    "ltree" = { type = "str" }

    [tool.codegen.secrets]           # live credentials: listed in <out>/secrets.py, redacted by
                                     # the authz wrapper unless the actor may read secrets
    "providers.api_key" = { key_id = "api_key_key_id" }        # the column naming its key
    "user_tokens.token" = { owner = "user_id" }                 # whose secret it is
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.errors import CodegenError
from codegen.instrument import InstrumentSettings
from codegen.pytypes import Override

DEFAULT_ERRORS_MODULE = "chatdb.errors"


@dataclass(frozen=True)
class AuthzSettings:
    runtime: str  # module with AuthzBase, AsyncAuthzBase, Action, ResourceType, Object
    custom_sync: str  # "module:Class" mixin implementing the custom methods
    custom_async: str
    type_tables: dict[str, str]  # resource type -> table whose rows are that object
    filter_columns: dict[str, tuple[str, str]]  # resource type -> (owner column, org column)
    # table -> resource type, for every table listed under `types` (a type may list several:
    # deployment_config = ["chat_model_configs", ...]); the authz reference rule reads it
    table_types: dict[str, str] = field(default_factory=dict)

    def type_of_table(self, table: str) -> str | None:
        """The resource type whose objects are rows of ``table`` (None: not authorized)."""
        if self.table_types:
            return self.table_types.get(table)
        return next((t for t, name in self.type_tables.items() if name == table), None)


@dataclass(frozen=True)
class SecretSpec:
    """A secret column from ``[tool.codegen.secrets]``."""

    table: str
    column: str
    key_id: str | None = None  # the column holding the digest of the key that encrypts it
    owner: str | None = None  # the column naming the user the secret belongs to


@dataclass
class Config:
    schema: Path
    queries: Path
    out: Path
    authz: bool = False
    schema_dump: Path | None = None
    docs: Path | None = None
    column_overrides: dict[str, Override] = field(default_factory=dict)
    type_overrides: dict[str, Override] = field(default_factory=dict)
    errors_module: str = DEFAULT_ERRORS_MODULE
    package: str = ""  # import path of the output package (needed by the authz wrapper)
    authz_out: Path | None = None  # where to write the authorization wrapper
    authz_settings: AuthzSettings | None = None
    secrets: tuple[SecretSpec, ...] = ()
    instrument: InstrumentSettings | None = None  # [tool.codegen.instrument]
    root: Path = field(default_factory=Path.cwd)  # paths in messages are relative to this

    def rel(self, path: Path) -> Path:
        try:
            return path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return path


def _override(key: str, raw: Any) -> Override:
    if isinstance(raw, str):
        return Override(raw)
    if not isinstance(raw, dict) or "type" not in raw:
        raise CodegenError(f"override {key!r}: expected a string or a table with 'type'")
    unknown = set(raw) - {"type", "imports", "decode", "encode", "nullable"}
    if unknown:
        raise CodegenError(f"override {key!r}: unknown keys {sorted(unknown)}")
    return Override(
        annotation=str(raw["type"]),
        imports=tuple(raw.get("imports", ())),
        decode=raw.get("decode"),
        encode=raw.get("encode"),
        nullable=raw.get("nullable"),
    )


def load_config(
    pyproject: Path | None,
    *,
    schema: Path | None = None,
    queries: Path | None = None,
    out: Path | None = None,
    authz: bool | None = None,
) -> Config:
    """Read ``[tool.codegen]`` (if a pyproject is given) and apply flag overrides."""
    section: dict[str, Any] = {}
    root = Path.cwd()
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CodegenError(f"{pyproject}: {exc}") from exc
        section = data.get("tool", {}).get("codegen", {})
        root = pyproject.parent

    def path(key: str, flag: Path | None) -> Path | None:
        if flag is not None:
            return flag
        value = section.get(key)
        return root / value if value else None

    schema_path, queries_path, out_path = (
        path("schema", schema),
        path("queries", queries),
        path("out", out),
    )
    missing = [
        n
        for n, v in (("schema", schema_path), ("queries", queries_path), ("out", out_path))
        if not v
    ]
    if missing:
        raise CodegenError(
            f"missing {', '.join(missing)}: pass --schema/--queries/--out or configure [tool.codegen]"
        )
    flags_only = schema is not None and queries is not None and out is not None
    overrides = section.get("overrides", {}) if not flags_only else {}
    assert schema_path and queries_path and out_path
    return Config(
        schema=schema_path,
        queries=queries_path,
        out=out_path,
        authz=bool(section.get("authz", False)) if authz is None else authz,
        schema_dump=None if flags_only else path("schema_dump", None),
        docs=None if flags_only else path("docs", None),
        column_overrides={
            k.lower(): _override(k, v) for k, v in overrides.get("columns", {}).items()
        },
        type_overrides={k: _override(k, v) for k, v in overrides.get("types", {}).items()},
        errors_module=str(section.get("errors_module", DEFAULT_ERRORS_MODULE)),
        package=str(section.get("package", "")),
        authz_out=None
        if flags_only or "wrapper" not in section
        else root / section["wrapper"]["out"],
        authz_settings=None if flags_only else _authz_settings(section.get("wrapper")),
        secrets=() if flags_only else _secrets(section.get("secrets", {})),
        instrument=None if flags_only else _instrument_settings(section.get("instrument")),
        root=root,
    )


def _secrets(raw: Any) -> tuple[SecretSpec, ...]:
    """``[tool.codegen.secrets]``: ``"table.column" = { key_id = "...", owner = "..." }``."""
    if not isinstance(raw, dict):
        raise CodegenError("[tool.codegen.secrets]: expected a table")
    out = []
    for key, spec in raw.items():
        table, dot, column = str(key).lower().partition(".")
        if not dot or not table or not column:
            raise CodegenError(f"secret {key!r}: expected 'table.column'")
        if not isinstance(spec, dict) or set(spec) - {"key_id", "owner"}:
            raise CodegenError(f"secret {key!r}: expected a table with 'key_id' and/or 'owner'")
        key_id, owner = spec.get("key_id"), spec.get("owner")
        out.append(
            SecretSpec(
                table,
                column,
                None if key_id is None else str(key_id).lower(),
                None if owner is None else str(owner).lower(),
            )
        )
    return tuple(out)


def _instrument_settings(raw: Any) -> InstrumentSettings | None:
    """``[tool.codegen.instrument]``: where to render the instrumented queriers."""
    if raw is None:
        return None
    try:
        return InstrumentSettings(out=str(raw["out"]), runtime=str(raw["runtime"]))
    except (KeyError, TypeError) as exc:
        raise CodegenError(f"[tool.codegen.instrument]: missing or bad key {exc}") from exc


def _authz_settings(raw: Any) -> AuthzSettings | None:
    """``[tool.codegen.wrapper]``: how to render the authorization wrapper."""
    if raw is None:
        return None
    try:
        types = {
            str(k): [str(v)] if isinstance(v, str) else [str(t) for t in v]
            for k, v in raw.get("types", {}).items()
        }
        if any(not tables for tables in types.values()):
            raise TypeError("types: every type needs at least one table")
        return AuthzSettings(
            runtime=str(raw["runtime"]),
            custom_sync=str(raw["custom"]),
            custom_async=str(raw["custom_async"]),
            type_tables={k: tables[0] for k, tables in types.items()},
            table_types={table: k for k, tables in types.items() for table in tables},
            filter_columns={
                str(k): (str(v[0]), str(v[1])) for k, v in raw.get("filter_columns", {}).items()
            },
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise CodegenError(f"[tool.codegen.wrapper]: missing or bad key {exc}") from exc


def add_options(parser: argparse.ArgumentParser) -> None:
    """The compiler's flags (shared by ``python -m codegen`` and ``chatdb gen|check``)."""
    parser.add_argument(
        "--config", type=Path, help="pyproject.toml with [tool.codegen] (default: ./pyproject.toml)"
    )
    parser.add_argument("--schema", type=Path, help="migrations directory or .sql schema file(s)")
    parser.add_argument("--queries", type=Path, help="query file or directory")
    parser.add_argument("--out", type=Path, help="output package directory")
    parser.add_argument(
        "--authz",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="require an '-- authz:' line on every query",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration the flags name: ./pyproject.toml unless all three paths are given."""
    pyproject = args.config
    if pyproject is None and not (args.schema and args.queries and args.out):
        default = Path("pyproject.toml")
        pyproject = default if default.exists() else None
    return load_config(
        pyproject, schema=args.schema, queries=args.queries, out=args.out, authz=args.authz
    )
