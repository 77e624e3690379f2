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
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.errors import CodegenError
from codegen.pytypes import Override

DEFAULT_ERRORS_MODULE = "chatdb.errors"


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
        root=root,
    )
