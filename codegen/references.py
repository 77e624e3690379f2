"""Which query parameters name a row of another table: the input of the authz reference rule.

A parameter *refers to* a table when the query writes it into, or compares it with, a column
whose foreign key points at that table's primary key, or compares it with that primary key
itself. The analysis follows a parameter through ``unnest(...) AS alias(columns)``, CTEs and
sub-selects, so a batch insert fed from arrays is seen as clearly as ``VALUES (@x)``.

Each use also says whether it is *top level*: a comparison with a column of a relation in the
statement's own FROM (or its UPDATE/DELETE target), or of a sub-select whose WHERE holds its
own sql_filter placeholder. Those rows are the ones a row policy (fetch, post_filter,
sql_filter) authorizes; a comparison inside any other sub-select is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast as pg_ast
from pglast.parser import parse_sql

from codegen.catalog import Catalog, Table
from codegen.parse import AUTHZ_FILTER_MARKER

ast: Any = pg_ast
FILTER_SENTINEL = "authz_filter_placeholder"


@dataclass(frozen=True, order=True)
class Reference:
    """Parameter ``$param`` is written to / compared with ``table.column``, naming a ``target`` row."""

    param: int
    table: str
    column: str
    target: str  # the referenced table
    assigned: bool  # inserted into or SET to the column (else compared with it)
    top_level: bool  # the column belongs to a relation whose rows the statement returns


@dataclass
class _Scope:
    tables: dict[str, Table] = field(default_factory=dict)  # alias -> catalog table
    derived: dict[str, dict[str, set[int]]] = field(default_factory=dict)  # alias -> column -> $N
    top_level: bool = False


class _Walker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.ctes: dict[str, dict[str, set[int]]] = {}
        self.out: set[Reference] = set()

    # ---- what a column is --------------------------------------------------------------
    def target_of(self, table: Table, column: str, compared: bool) -> str | None:
        """The table ``table.column`` refers to (compared: its own primary key counts too)."""
        ref = self.catalog.foreign_keys.get((table.oid, column))
        if ref is not None:
            return self.catalog.tables[ref].name
        if compared and self.catalog.primary_keys.get(table.oid) == column:
            return table.name
        return None

    def resolve(self, ref: Any, scopes: list[_Scope]) -> tuple[Table, str, bool] | None:
        """The catalog column a ColumnRef names, searching the innermost scope first."""
        parts = [f.sval for f in ref.fields if isinstance(f, ast.String)]
        if not parts or len(parts) != len(ref.fields):
            return None
        column = parts[-1]
        for scope in reversed(scopes):
            if len(parts) >= 2:
                table = scope.tables.get(parts[-2])
                if table is not None:
                    return table, column, scope.top_level
                if parts[-2] in scope.derived:
                    return None
                continue
            owners = [t for t in scope.tables.values() if t.column(column) is not None]
            if len({t.oid for t in owners}) == 1:
                return owners[0], column, scope.top_level
            if owners or any(column in d for d in scope.derived.values()):
                return None
        return None

    def sources(self, node: Any, scopes: list[_Scope]) -> set[int]:
        """Parameters whose value ``node`` is: $N (through casts and unnest) or a derived column."""
        while isinstance(node, ast.TypeCast):
            node = node.arg
        if isinstance(node, ast.ParamRef):
            return {node.number}
        if isinstance(node, ast.FuncCall) and _func_name(node) == "unnest" and node.args:
            return set().union(*(self.sources(a, scopes) for a in node.args))
        if isinstance(node, ast.ColumnRef):
            parts = [f.sval for f in node.fields if isinstance(f, ast.String)]
            if not parts:
                return set()
            for scope in reversed(scopes):
                if len(parts) >= 2:
                    if parts[-2] in scope.derived:
                        return set(scope.derived[parts[-2]].get(parts[-1], ()))
                    if parts[-2] in scope.tables:
                        return set()
                    continue
                found = [d[parts[-1]] for d in scope.derived.values() if parts[-1] in d]
                if found:
                    return set().union(*found)
                if any(t.column(parts[-1]) is not None for t in scope.tables.values()):
                    return set()
        return set()

    def note(
        self, params: set[int], table: Table | None, column: str, assigned: bool, top: bool
    ) -> None:
        if table is None or not params:
            return
        target = self.target_of(table, column, compared=not assigned)
        if target is None:
            return
        for n in params:
            self.out.add(Reference(n, table.name, column, target, assigned, top and not assigned))

    # ---- statements ----------------------------------------------------------------------
    def statement(self, node: Any, outer: list[_Scope], top: bool) -> dict[str, set[int]]:
        """Walk one statement; returns its output columns that carry parameters."""
        with_clause = getattr(node, "withClause", None)
        if with_clause is not None:
            for cte in with_clause.ctes or ():
                self.ctes[cte.ctename] = self.statement(cte.ctequery, outer, False)
        if isinstance(node, ast.SelectStmt):
            return self.select(node, outer, top)
        if isinstance(node, ast.InsertStmt):
            return self.insert(node, outer, top)
        if isinstance(node, ast.UpdateStmt):
            return self.update(node, outer, top)
        if isinstance(node, ast.DeleteStmt):
            scope = self.scope([node.relation, *(node.usingClause or ())], outer, top)
            self.expr(node.whereClause, [*outer, scope])
            self.expr(_returning(node), [*outer, scope])
            return {}
        self.expr(node, outer)
        return {}

    def scope(self, items: list[Any], outer: list[_Scope], top: bool) -> _Scope:
        scope = _Scope(top_level=top)
        for item in items:
            self.from_item(item, scope, outer)
        return scope

    def from_item(self, item: Any, scope: _Scope, outer: list[_Scope]) -> None:
        if isinstance(item, ast.RangeVar):
            alias = item.alias.aliasname if item.alias else item.relname
            name = f"{item.schemaname}.{item.relname}" if item.schemaname else item.relname
            if item.schemaname is None and item.relname in self.ctes:
                scope.derived[alias] = self.ctes[item.relname]
                return
            table = self.catalog.table(name)
            if table is not None:
                scope.tables[alias] = table
        elif isinstance(item, ast.JoinExpr):
            self.from_item(item.larg, scope, outer)
            self.from_item(item.rarg, scope, outer)
            self.expr(item.quals, [*outer, scope])
        elif isinstance(item, ast.RangeSubselect):
            columns = self.statement(item.subquery, [*outer, scope], False)
            if item.alias is not None:
                scope.derived[item.alias.aliasname] = columns
        elif isinstance(item, ast.RangeFunction):
            calls = [f[0] for f in item.functions or () if f and f[0] is not None]
            args = [a for call in calls for a in (call.args or ())]
            for call in calls:
                self.expr(call, [*outer, scope])
            if item.alias is not None:
                names = [c.sval for c in item.alias.colnames or ()]
                if len(calls) == 1 and _func_name(calls[0]) == "unnest" and names:
                    per_column = [self.sources(a, [*outer, scope]) for a in args]
                    scope.derived[item.alias.aliasname] = {
                        n: s for n, s in zip(names, per_column, strict=False)
                    }

    def select(self, node: Any, outer: list[_Scope], top: bool) -> dict[str, set[int]]:
        if node.larg is not None and node.rarg is not None:
            left = self.statement(node.larg, outer, top)
            self.statement(node.rarg, outer, top)
            return left
        for row in node.valuesLists or ():
            self.expr(row, outer)
        filtered = self.has_filter(node.whereClause)
        scope = self.scope(list(node.fromClause or ()), outer, top or filtered)
        scopes = [*outer, scope]
        columns: dict[str, set[int]] = {}
        for target in node.targetList or ():
            self.expr(target.val, scopes)
            if isinstance(target.val, ast.ColumnRef) and isinstance(
                target.val.fields[-1], ast.A_Star
            ):
                for derived in scope.derived.values():
                    for column, params in derived.items():
                        columns.setdefault(column, set()).update(params)
                continue
            name = target.name or _column_name(target.val)
            if name:
                columns.setdefault(name, set()).update(self.sources(target.val, scopes))
        for clause in ("whereClause", "havingClause", "groupClause", "sortClause"):
            self.expr(getattr(node, clause), scopes)
        self.expr(node.limitCount, scopes)
        self.expr(node.limitOffset, scopes)
        return columns

    def insert(self, node: Any, outer: list[_Scope], top: bool) -> dict[str, set[int]]:
        table = self.catalog.table(
            f"{node.relation.schemaname}.{node.relation.relname}"
            if node.relation.schemaname
            else node.relation.relname
        )
        cols = [c.name for c in node.cols or ()]
        select = node.selectStmt
        if select is not None:
            rows = getattr(select, "valuesLists", None)
            if rows:
                for row in rows:
                    for col, value in zip(cols, row, strict=False):
                        self.note(self.sources(value, outer), table, col, True, top)
                    self.expr(row, outer)
            else:
                produced = self.statement(select, outer, False)
                names = [t.name or _column_name(t.val) for t in select.targetList or ()]
                for col, name in zip(cols, names, strict=False):
                    if name:
                        self.note(produced.get(name, set()), table, col, True, top)
        scope = _Scope(top_level=top)
        if table is not None:
            scope.tables[node.relation.alias.aliasname if node.relation.alias else table.name] = (
                table
            )
            scope.tables.setdefault("excluded", table)
        conflict = node.onConflictClause
        if conflict is not None:
            for target in conflict.targetList or ():
                self.note(self.sources(target.val, outer), table, target.name, True, top)
                self.expr(target.val, [*outer, scope])
            self.expr(conflict.whereClause, [*outer, scope])
        self.expr(_returning(node), [*outer, scope])
        return {}

    def update(self, node: Any, outer: list[_Scope], top: bool) -> dict[str, set[int]]:
        scope = self.scope([node.relation, *(node.fromClause or ())], outer, top)
        scopes = [*outer, scope]
        alias = node.relation.alias.aliasname if node.relation.alias else node.relation.relname
        table = scope.tables.get(alias)
        for target in node.targetList or ():
            self.note(self.sources(target.val, scopes), table, target.name, True, top)
            self.expr(target.val, scopes)
        self.expr(node.whereClause, scopes)
        self.expr(_returning(node), scopes)
        return {}

    def has_filter(self, node: Any) -> bool:
        """Whether this WHERE clause itself (not a sub-select) holds an sql_filter placeholder."""
        if isinstance(node, tuple | list):
            return any(self.has_filter(n) for n in node)
        if not isinstance(node, ast.Node) or isinstance(node, ast.SubLink | ast.SelectStmt):
            return False
        if (
            isinstance(node, ast.ColumnRef)
            and len(node.fields) == 1
            and getattr(node.fields[0], "sval", None) == FILTER_SENTINEL
        ):
            return True
        return any(self.has_filter(getattr(node, attr)) for attr in node)

    # ---- expressions -----------------------------------------------------------------------
    def expr(self, node: Any, scopes: list[_Scope]) -> None:
        """Comparisons of parameters with columns anywhere under ``node``; sub-selects scope."""
        if node is None:
            return
        if isinstance(node, tuple | list):
            for item in node:
                self.expr(item, scopes)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.SubLink):
            self.expr(node.testexpr, scopes)
            self.statement(node.subselect, scopes, False)
            return
        if isinstance(node, ast.SelectStmt | ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
            self.statement(node, scopes, False)
            return
        if isinstance(node, ast.A_Expr):
            self.compare(node.lexpr, node.rexpr, scopes)
            self.compare(node.rexpr, node.lexpr, scopes)
        for attr in node:
            value = getattr(node, attr)
            if isinstance(value, ast.Node | tuple | list):
                self.expr(value, scopes)

    def compare(self, column: Any, other: Any, scopes: list[_Scope]) -> None:
        if not isinstance(column, ast.ColumnRef):
            return
        found = self.resolve(column, scopes)
        if found is None:
            return
        table, name, top = found
        values = other if isinstance(other, tuple | list) else (other,)
        params: set[int] = set()
        for value in values:
            params |= self.sources(value, scopes)
        self.note(params, table, name, False, top)


def _func_name(call: Any) -> str:
    return ".".join(n.sval for n in call.funcname or () if isinstance(n, ast.String))


def _column_name(node: Any) -> str | None:
    """The output name PostgreSQL gives an unaliased target (a column's own name)."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String):
        name: str = node.fields[-1].sval
        return name
    return None


def param_references(sql: str, catalog: Catalog) -> list[Reference]:
    """Every use of a parameter of ``sql`` that names a row of a table (see the module docstring).

    Each sql_filter placeholder is parsed as the column ``FILTER_SENTINEL`` (the parser keeps
    no comments), so the sub-selects holding one can be told apart.
    """
    marked = sql.replace(AUTHZ_FILTER_MARKER + " TRUE", AUTHZ_FILTER_MARKER + " " + FILTER_SENTINEL)
    stmt = parse_sql(marked)[0].stmt
    walker = _Walker(catalog)
    walker.statement(stmt, [], True)
    return sorted(walker.out)


def _returning(node: Any) -> Any:
    """RETURNING targets (pglast names the field differently across PostgreSQL versions)."""
    return getattr(node, "returningList", None) or getattr(node, "returningClause", None)
