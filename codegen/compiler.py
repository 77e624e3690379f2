"""From parsed queries and the live catalog to the typed intermediate form the renderer prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast as pg_ast
from pglast.parser import ParseError, parse_sql

from codegen.catalog import Catalog, Description, Table, describe
from codegen.config import Config
from codegen.errors import CodegenError, ErrorSink, Location
from codegen.names import class_name, dedupe, method_name, py_ident, snake
from codegen.nullability import Analyzer, OutColumn
from codegen.parse import AUTHZ_FILTER_MARKER, RawQuery
from codegen.pytypes import Override, PyType, TypeMapper, apply_override
from codegen.readonly import VOLATILE_SQL, is_read_only
from codegen.references import Reference, param_references

# pglast types every AST attribute as Optional; the tree is walked dynamically.
ast: Any = pg_ast


@dataclass
class ParamIR:
    name: str
    number: int
    pytype: PyType
    nullable: bool
    is_slice: bool
    pg_type: str
    reason: str = ""  # why it is required or nullable (for `explain`)

    @property
    def annotation(self) -> str:
        if self.pytype.array is not None:
            # Arrays are accepted as any sequence; PostgreSQL arrays may hold NULL elements.
            text = f"Sequence[{self.pytype.array.annotation} | None]"
        else:
            text = self.pytype.annotation
        return f"{text} | None" if self.nullable else text


@dataclass
class FieldIR:
    name: str
    pytype: PyType
    nullable: bool
    index: int
    pg_type: str
    reason: str = ""  # the rule that decided its nullability (for `explain`)
    source: str = ""  # "table.column" when the value is read straight from a table column

    @property
    def annotation(self) -> str:
        return f"{self.pytype.annotation} | None" if self.nullable else self.pytype.annotation


@dataclass
class ModelIR:
    class_name: str
    table: str
    fields: list[FieldIR]
    oid: int = 0
    schema: str = "public"
    composite: bool = False  # a composite type (CREATE TYPE ... AS), not a table

    @property
    def qualified(self) -> str:
        return self.table if self.schema == "public" else f"{self.schema}.{self.table}"


@dataclass
class EmbedIR:
    name: str
    model: ModelIR
    start: int
    end: int
    nullable: bool
    probe: int  # index of a NOT NULL column: NULL there means the outer join found nothing

    @property
    def annotation(self) -> str:
        return f"{self.model.class_name} | None" if self.nullable else self.model.class_name


@dataclass
class RowIR:
    class_name: str
    fields: list[FieldIR | EmbedIR]
    is_model: bool = False
    columns: list[FieldIR | EmbedIR] = field(default_factory=list)  # as analysed (explain)

    @property
    def width(self) -> int:
        return sum(f.end - f.start if isinstance(f, EmbedIR) else 1 for f in self.fields)

    @property
    def needs_load(self) -> bool:
        return any(isinstance(f, EmbedIR) or f.pytype.needs_load for f in self.fields)


@dataclass
class EnumIR:
    class_name: str
    pg_name: str
    values: list[str]


@dataclass
class QueryIR:
    name: str
    method: str
    kind: str
    module: str
    location: Location
    sql: str
    params: list[ParamIR]
    row: RowIR | None
    authz: str | None
    doc: list[str]
    source_sql: str
    has_authz_filter: bool = False
    copy_sql: str = ""
    read_only: bool = False  # a replica may serve it outside a transaction (codegen.readonly)
    references: list[Reference] = field(default_factory=list)  # parameters naming other rows

    @property
    def const(self) -> str:
        return snake(self.name).upper()

    @property
    def params_class(self) -> str:
        return f"{self.name}Params"

    @property
    def uses_params_class(self) -> bool:
        return self.kind in (":copyfrom", ":batchexec", ":batchmany", ":batchone")


@dataclass
class Package:
    enums: list[EnumIR]
    models: list[ModelIR]
    modules: dict[str, list[QueryIR]]  # module name -> queries in file order
    sources: dict[str, str] = field(default_factory=dict)  # module name -> source file (relative)
    catalog: Catalog | None = None

    @property
    def queries(self) -> list[QueryIR]:
        return [q for m in sorted(self.modules) for q in self.modules[m]]


class Compiler:
    """Compiles the queries of one project against its catalog."""

    def __init__(
        self, config: Config, catalog: Catalog, conn: Any, sink: ErrorSink | None = None
    ) -> None:
        self.sink = sink or ErrorSink()
        self.config = config
        self.catalog = catalog
        self.conn = conn
        self._volatility: dict[tuple[str, ...], bool] = {}
        self.types = TypeMapper(catalog, config.type_overrides)
        self._infer_view_nullability()
        self.models = self._models()
        self.model_by_oid = {m.oid: m for m in self.models}

    def _infer_view_nullability(self) -> None:
        """Views report every column nullable; analyse their SELECT like a query (in creation
        order, so a view over an earlier view sees its inferred columns)."""
        analyzer = Analyzer(self.catalog, {})
        for table in sorted(self.catalog.tables.values(), key=lambda t: t.oid):
            if table.definition:
                analyzer.infer_view(table)

    def _column_override(self, table: str, column: str) -> Override | None:
        return self.config.column_overrides.get(f"{table}.{column}".lower())

    def _column_type(self, table: Table, col_name: str, oid: int) -> PyType:
        base = self.types.map(oid)
        override = self._column_override(table.name, col_name)
        return apply_override(base, override) if override else base

    def _models(self) -> list[ModelIR]:
        """One dataclass per table, view and composite type (which rows and values decode to)."""
        tables = sorted(self.catalog.tables.values(), key=lambda t: (t.schema, t.name))
        models = [ModelIR("", t.name, [], t.oid, t.schema, t.kind == "c") for t in tables]
        self._name_models(models)
        for table, model in zip(tables, models, strict=True):
            self.types.row_classes[table.reltype] = model.class_name
            self.types.row_fields[table.reltype] = [c.type_oid for c in table.columns]
        for table, model in zip(tables, models, strict=True):
            names = dedupe(
                [py_ident(c.name, f"column_{i + 1}") for i, c in enumerate(table.columns)]
            )
            for i, (col, fname) in enumerate(zip(table.columns, names, strict=True)):
                override = self._column_override(table.name, col.name)
                nullable = not col.not_null
                if override is not None and override.nullable is not None:
                    nullable = override.nullable
                try:
                    pytype = self._column_type(table, col.name, col.type_oid)
                except CodegenError as exc:
                    where = "type" if table.kind == "c" else "table"
                    self.sink.add(
                        CodegenError(f"schema: {where} {model.qualified}, column {col.name}: {exc}")
                    )
                    pytype = PyType("Any")
                model.fields.append(
                    FieldIR(
                        fname,
                        pytype,
                        nullable,
                        i,
                        self.types.type_name(col.type_oid),
                        source=f"{table.name}.{col.name}".lower(),
                    )
                )
        return models

    def _name_models(self, models: list[ModelIR]) -> None:
        """Class names for the tables: singular CamelCase, schema-prefixed outside public;
        tables that would share one fall back to the unsingularised name; a clash left
        after that is an error naming both tables."""
        taken = {e.class_name: f"enum {e.pg_name}" for e in self.enums()}
        wanted: dict[str, list[ModelIR]] = {}
        for m in models:
            m.class_name = class_name(m.table, m.schema, singular=True)
            wanted.setdefault(m.class_name, []).append(m)
        for name, group in wanted.items():
            if len(group) > 1 or name in taken:
                for m in group:
                    m.class_name = class_name(m.table, m.schema)
        for m in models:
            what = f"{'type' if m.composite else 'table'} {m.qualified}"
            first = taken.setdefault(m.class_name, what)
            if first != what:
                self.sink.add(
                    CodegenError(
                        f"schema: {first} and {what} both map to the class "
                        f"{m.class_name!r}; rename one (or give it another schema)"
                    )
                )

    def enums(self) -> list[EnumIR]:
        out = []
        for oid, labels in self.catalog.enums.items():
            typ = self.catalog.types[oid]
            if typ.schema in ("pg_catalog", "information_schema"):
                continue
            out.append(EnumIR(class_name(typ.name, typ.schema), typ.name, labels))
        return sorted(out, key=lambda e: e.class_name)

    # ---- one query ------------------------------------------------------------------------
    def compile(self, raw: RawQuery, module: str) -> QueryIR:
        loc = raw.location
        if self.config.authz and not raw.authz:
            raise CodegenError("no '-- authz:' policy line (authz is enabled)", loc, raw.name)
        desc = describe(self.conn, raw.sql, loc)
        try:
            stmts = parse_sql(raw.sql)
        except ParseError as exc:
            raise CodegenError(f"syntax error: {exc}", loc) from exc
        stmt = stmts[0].stmt
        contexts = _param_contexts(stmt, self.catalog)
        params = self._params(raw, desc, contexts, loc)
        analyzer = Analyzer(self.catalog, {p.number: p.nullable for p in params})
        out_cols = analyzer.statement(stmt)
        row = self._row(raw, desc, out_cols, loc)
        kind = raw.kind
        if kind in (":one", ":many", ":iter", ":batchmany", ":batchone") and row is None:
            raise CodegenError(f"a {kind} query must return columns", loc, raw.name)
        copy_sql = ""
        if kind == ":copyfrom":
            copy_sql, params = self._copy(stmt, params, loc)
        return QueryIR(
            name=raw.name,
            method=method_name(raw.name),
            kind=kind,
            module=module,
            location=loc,
            sql=raw.sql,
            params=params,
            row=None if copy_sql else row,
            authz=raw.authz,
            doc=raw.doc,
            source_sql=raw.source_sql,
            has_authz_filter=AUTHZ_FILTER_MARKER in raw.sql,
            copy_sql=copy_sql,
            read_only=is_read_only(stmt, self._volatile),
            references=param_references(raw.sql, self.catalog),
        )

    def _volatile(self, name: tuple[str, ...]) -> bool:
        if name not in self._volatility:
            schema = name[0] if len(name) > 1 else None
            row = self.conn.execute(VOLATILE_SQL, {"name": name[-1], "schema": schema}).fetchone()
            self._volatility[name] = bool(row[0])
        return self._volatility[name]

    def _params(
        self,
        raw: RawQuery,
        desc: Description,
        contexts: dict[int, _ParamContext],
        loc: Location,
    ) -> list[ParamIR]:
        names = []
        for p in raw.params:
            if p.explicit:
                names.append(py_ident(p.name, f"p{p.number}"))
            else:
                ctx = contexts.get(p.number)
                names.append(
                    py_ident(ctx.column, f"p{p.number}") if ctx and ctx.column else f"p{p.number}"
                )
        names = dedupe(names)
        out = []
        for p, name in zip(raw.params, names, strict=True):
            oid = desc.param_types[p.number - 1]
            ctx = contexts.get(p.number)
            pytype = self.types.map(oid)
            nullable = p.nullable
            reason = "sqlc.narg()" if p.nullable else "required: a named parameter"
            if not p.explicit:
                reason = "required: a $N parameter"
            if ctx is not None:
                if ctx.null_tested and not nullable:
                    nullable, reason = True, "nullable: tested with IS NULL in the query"
                if ctx.table is not None and ctx.column:
                    col = ctx.table.column(ctx.column)
                    where = f"{ctx.table.name}.{ctx.column}"
                    override = self._column_override(ctx.table.name, ctx.column)
                    if override is not None and col is not None and col.type_oid == oid:
                        pytype = apply_override(pytype, override)
                    # sqlc's rule: a value written to a nullable column (INSERT values,
                    # UPDATE SET) may be NULL; one also compared with `=` stays required.
                    if ctx.assigned and col is not None and not col.not_null:
                        if ctx.compared:
                            reason = f"required: written to nullable {where} but also compared"
                        elif not nullable:
                            nullable = True
                            reason = f"nullable: written to the nullable column {where}"
                    elif ctx.assigned and col is not None and not nullable:
                        reason = f"required: written to {where}, which is NOT NULL"
                    elif ctx.compared and not nullable:
                        reason = f"required: compared with {where} (NULL would match nothing)"
            out.append(
                ParamIR(
                    name,
                    p.number,
                    pytype,
                    nullable,
                    p.is_slice,
                    self.types.type_name(oid),
                    reason,
                )
            )
        return out

    def _row(
        self, raw: RawQuery, desc: Description, cols: list[OutColumn], loc: Location
    ) -> RowIR | None:
        fields = desc.fields
        if not fields:
            return None
        if len(cols) != len(fields):
            # The syntax tree and the server disagree (an unusual construct): be conservative.
            why = "the analysis did not follow this statement's columns: nullable to be safe"
            cols = [OutColumn(f.name, True, reason=why) for f in fields]
        embeds = {e.offset: e.alias for e in raw.embeds}
        items: list[FieldIR | EmbedIR] = []
        names: list[str] = []
        i = 0
        while i < len(fields):
            col = cols[i]
            alias = embeds.get(col.location) if col.star_of else None
            if alias is not None and col.star_table is not None:
                table = col.star_table
                model = self.model_by_oid[table.oid]
                start, end = i, i + len(table.columns)
                probe_offset = next((j for j, c in enumerate(table.columns) if c.not_null), 0)
                embed_name = py_ident(alias, f"embed_{i}")
                items.append(
                    EmbedIR(embed_name, model, start, end, col.star_outer, start + probe_offset)
                )
                names.append(items[-1].name)
                i = end
                continue
            f = fields[i]
            name = f.name
            nullable = col.nullable
            forced = col.aliased and name.endswith(("!", "?"))
            reason = col.reason
            # Only an alias written in the query overrides: a real column "note!" does not,
            # and PostgreSQL's "?column?" (an unnamed expression) is no override either.
            if forced:
                name, nullable = name[:-1], name.endswith("?")
                reason = f'the alias "{name}{f.name[-1]}" in the query forces it'
            elif name == "?column?":
                name = ""
            pytype = self.types.map(f.type_oid)
            source = self.catalog.tables.get(f.table_oid) if f.table_oid else None
            origin = ""
            if source is not None and f.table_column > 0:
                src = next((c for c in source.columns if c.number == f.table_column), None)
                origin = f"{source.name}.{src.name}".lower() if src else ""
                override = self._column_override(source.name, src.name) if src else None
                if override is not None:
                    pytype = apply_override(pytype, override)
                    if override.nullable is not None and not forced:
                        nullable = override.nullable
                        reason = f"the override of {source.name}.{src.name if src else ''} says so"
            items.append(
                FieldIR(
                    py_ident(name, f"column_{i + 1}"),
                    pytype,
                    nullable,
                    i,
                    self.types.type_name(f.type_oid),
                    reason,
                    source=origin,
                )
            )
            names.append(items[-1].name)
            i += 1
        for item, name in zip(items, dedupe(names), strict=True):
            item.name = name
        same = self._matching_model(items, fields)
        if same is not None:
            return RowIR(same.class_name, list(same.fields), is_model=True, columns=items)
        return RowIR(f"{raw.name}Row", items, columns=items)

    def _matching_model(self, items: list[FieldIR | EmbedIR], fields: list[Any]) -> ModelIR | None:
        """The table model when the row is exactly a table's columns, in order."""
        if any(isinstance(i, EmbedIR) for i in items) or not fields:
            return None
        table_oid = fields[0].table_oid
        model = self.model_by_oid.get(table_oid)
        if model is None or len(model.fields) != len(fields):
            return None
        table = self.catalog.tables[table_oid]
        for f, col, item, mf in zip(fields, table.columns, items, model.fields, strict=True):
            assert isinstance(item, FieldIR)
            if f.table_oid != table_oid or f.table_column != col.number:
                return None
            if item.nullable != mf.nullable or item.name != mf.name:
                return None
        return model

    def _copy(self, stmt: Any, params: list[ParamIR], loc: Location) -> tuple[str, list[ParamIR]]:
        if not isinstance(stmt, ast.InsertStmt) or not stmt.cols:
            raise CodegenError(":copyfrom needs INSERT INTO t (columns) VALUES (params)", loc)
        select = stmt.selectStmt
        rows = getattr(select, "valuesLists", None)
        if not rows or len(rows) != 1:
            raise CodegenError(":copyfrom needs exactly one VALUES row of parameters", loc)
        by_number = {p.number: p for p in params}
        ordered = []
        for value in rows[0]:
            node = value.arg if isinstance(value, ast.TypeCast) else value
            if not isinstance(node, ast.ParamRef):
                raise CodegenError(":copyfrom VALUES may hold only parameters", loc)
            ordered.append(by_number[node.number])
        rel = stmt.relation
        table = f"{rel.schemaname}.{rel.relname}" if rel.schemaname else rel.relname
        cols = ", ".join(c.name for c in stmt.cols)
        return f"COPY {table} ({cols}) FROM STDIN", ordered


@dataclass
class _ParamContext:
    column: str | None = None
    table: Table | None = None
    assigned: bool = False  # inserted into or SET to the column
    compared: bool = False  # compared with a column (`col = $n`)
    null_tested: bool = False  # used in `param IS NULL`


def _param_number(node: Any) -> int | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node.number if isinstance(node, ast.ParamRef) else None


def _param_contexts(stmt: Any, catalog: Catalog) -> dict[int, _ParamContext]:
    """What each $N is compared with, inserted into or assigned to: names and types follow."""
    out: dict[int, _ParamContext] = {}
    aliases: dict[str, Table] = {}

    def ctx(n: int) -> _ParamContext:
        return out.setdefault(n, _ParamContext())

    def note_column(n: int, ref: Any, assigned: bool, table: Table | None = None) -> None:
        c = ctx(n)
        if c.column is not None:
            return
        if isinstance(ref, str):
            c.column, c.table = ref, table
        elif isinstance(ref, ast.ColumnRef):
            parts = [f.sval for f in ref.fields if isinstance(f, ast.String)]
            if not parts:
                return
            c.column = parts[-1]
            if len(parts) >= 2:
                c.table = aliases.get(parts[-2])
            elif len({t.oid for t in aliases.values()}) == 1:
                c.table = next(iter(aliases.values()))
        c.assigned = c.assigned or assigned

    # Collect table aliases first so column references can be resolved (one walk of the tree).
    nodes = list(_walk(stmt))
    for node in nodes:
        if isinstance(node, ast.RangeVar):
            table = catalog.table(
                f"{node.schemaname}.{node.relname}" if node.schemaname else node.relname
            )
            if table is not None:
                aliases[node.alias.aliasname if node.alias else node.relname] = table

    for node in nodes:
        if isinstance(node, ast.InsertStmt) and node.cols:
            table = catalog.table(node.relation.relname)
            select = node.selectStmt
            for row in getattr(select, "valuesLists", None) or ():
                for col, value in zip(node.cols, row, strict=False):
                    n = _param_number(value)
                    if n is not None:
                        note_column(n, col.name, True, table)
            for col, target in zip(
                node.cols, getattr(select, "targetList", None) or (), strict=False
            ):
                n = _param_number(target.val)
                if n is not None:
                    note_column(n, col.name, True, table)
        elif isinstance(node, ast.UpdateStmt):
            table = catalog.table(node.relation.relname)
            for target in node.targetList or ():
                n = _param_number(target.val)
                if n is not None:
                    note_column(n, target.name, True, table)
        elif isinstance(node, ast.OnConflictClause):
            for target in node.targetList or ():
                n = _param_number(target.val)
                if n is not None:
                    note_column(n, target.name, True)
        elif isinstance(node, ast.A_Expr):
            left, right = node.lexpr, node.rexpr
            ln, rn = _param_number(left), _param_number(right)
            if rn is not None and isinstance(left, ast.ColumnRef):
                note_column(rn, left, False)
                ctx(rn).compared = True
            elif ln is not None and isinstance(right, ast.ColumnRef):
                note_column(ln, right, False)
                ctx(ln).compared = True
        elif isinstance(node, ast.NullTest):
            n = _param_number(node.arg)
            if n is not None:
                ctx(n).null_tested = True
        elif isinstance(node, ast.SelectStmt):
            n = _param_number(node.limitCount)
            if n is not None:
                note_column(n, "limit", False)
            n = _param_number(node.limitOffset)
            if n is not None:
                note_column(n, "offset", False)
    return out


def _walk(node: Any) -> Any:
    """Every AST node under ``node``, depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple | list):
            stack.extend(reversed(current))
            continue
        if not isinstance(current, ast.Node):
            continue
        yield current
        for attr in current:
            value = getattr(current, attr)
            if isinstance(value, ast.Node | tuple | list):
                stack.append(value)
