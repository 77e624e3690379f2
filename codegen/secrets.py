"""Secret columns (``[tool.codegen.secrets]``): checked against the catalog, listed in the
generated ``secrets.py`` so the runtime (encryption, error redaction) and the authorization
wrapper (which redacts them in returned rows) read one declaration."""

from __future__ import annotations

from codegen.catalog import Catalog
from codegen.compiler import EmbedIR, FieldIR, QueryIR
from codegen.config import SecretSpec
from codegen.errors import CodegenError
from codegen.render import HEADER

_TEMPLATE = '''{header}
"""Columns holding live credentials, declared once in ``[tool.codegen.secrets]``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SecretColumn:
    """A column holding a live credential."""

    table: str
    column: str
    key_id_column: str | None  # digest of the key that encrypts the value (NULL = clear text)
    owner_column: str | None  # the user the secret belongs to (None = the deployment's)
    primary_key: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{{self.table}}.{{self.column}}"


SECRET_COLUMNS: tuple[SecretColumn, ...] = (
{rows})

SECRET_TABLES: frozenset[str] = frozenset(c.table for c in SECRET_COLUMNS)
'''


def check_secrets(specs: tuple[SecretSpec, ...], catalog: Catalog) -> None:
    """Every secret names an existing table and columns (a typo must not silently leak)."""
    for spec in specs:
        table = catalog.table(spec.table)
        if table is None:
            raise CodegenError(f"secret {spec.table}.{spec.column}: no table {spec.table!r}")
        for what, name in (("column", spec.column), ("key_id", spec.key_id), ("owner", spec.owner)):
            if name is not None and table.column(name) is None:
                raise CodegenError(
                    f"secret {spec.table}.{spec.column}: {what} column {name!r} does not exist"
                )


def render_secrets(specs: tuple[SecretSpec, ...], catalog: Catalog) -> str:
    rows = []
    for spec in specs:
        table = catalog.table(spec.table)
        assert table is not None  # check_secrets ran first
        values = (spec.table, spec.column, spec.key_id, spec.owner, tuple(table.primary_key))
        rows.append(f"    SecretColumn{values!r},\n".replace("'", '"'))
    header = HEADER.format(source="[tool.codegen.secrets]")
    return _TEMPLATE.format(header=header, rows="".join(rows))


def secret_paths(query: QueryIR, specs: tuple[SecretSpec, ...]) -> tuple[tuple[str, str, str], ...]:
    """Where a query's rows carry secrets: (embed field or "", field, owner field or "").

    A field is a secret when the server reports it is read straight from a secret column (so
    ``SELECT *``, ``RETURNING *``, ``sqlc.embed`` and a renamed column all count). The owner
    field is the row's (or embedded table's) field read from the secret's owner column, if any.
    """
    if query.row is None or not specs:
        return ()
    by_source = {f"{s.table}.{s.column}": s for s in specs}
    out: list[tuple[str, str, str]] = []

    def scan(embed: str, fields: list[FieldIR]) -> None:
        for f in fields:
            spec = by_source.get(f.source)
            if spec is None:
                continue
            owner = ""
            if spec.owner is not None:
                wanted = f"{spec.table}.{spec.owner}"
                owner = next((o.name for o in fields if o.source == wanted), "")
            out.append((embed, f.name, owner))

    scan("", [f for f in query.row.fields if isinstance(f, FieldIR)])
    for item in query.row.fields:
        if isinstance(item, EmbedIR):
            scan(item.name, item.model.fields)
    return tuple(out)
