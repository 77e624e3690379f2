"""Nullability of result columns, from the query's syntax tree and the catalog.

The server reports types but not nullability, so we work it out: a NOT NULL column read from
a table is non-null unless that table sits on the nullable side of an outer join (also when
the join is over a CTE or a sub-query, whose own columns are analysed recursively); count(*),
EXISTS, comparisons of non-null operands and COALESCE(..., non-null) are non-null; NULLIF,
scalar sub-queries and most aggregates over a whole table are nullable; UNION is nullable
where any branch is. Unknown constructs are nullable: a wrong "nullable" costs a check, a wrong
"non-null" costs a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast as pg_ast
from pglast.enums import A_Expr_Kind, JoinType, SetOperation, SubLinkType

from codegen.catalog import Catalog, Table

# pglast types every AST attribute as Optional; the tree is walked dynamically.
ast: Any = pg_ast


@dataclass
class OutColumn:
    """One result column as the analysis sees it."""

    name: str
    nullable: bool
    star_of: str | None = None  # alias of the range item a `*` expanded
    star_table: Table | None = None
    star_outer: bool = False  # the expanded item is on the nullable side of an outer join
    location: int = -1  # offset of the select-list item that produced it


@dataclass
class RangeItem:
    alias: str
    columns: list[tuple[str, bool]]  # (name, nullable) in order
    table: Table | None = None
    outer_nullable: bool = False  # on the nullable side of an outer join


@dataclass
class Scope:
    items: list[RangeItem] = field(default_factory=list)
    parent: Scope | None = None
    ctes: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    not_null_refs: set[tuple[str | None, str]] = field(default_factory=set)
    grouped: bool = False  # GROUP BY present: aggregates see non-empty groups

    def cte(self, name: str) -> list[tuple[str, bool]] | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.ctes[name]
            scope = scope.parent
        return None


# Functions that return NULL only when an argument is NULL (and never for non-null input).
_STRICT_TOTAL = frozenset(
    [
        "abs",
        "ceil",
        "ceiling",
        "floor",
        "round",
        "trunc",
        "sign",
        "mod",
        "power",
        "sqrt",
        "exp",
        "ln",
        "log",
        "lower",
        "upper",
        "initcap",
        "length",
        "char_length",
        "character_length",
        "octet_length",
        "bit_length",
        "btrim",
        "trim",
        "ltrim",
        "rtrim",
        "lpad",
        "rpad",
        "md5",
        "sha256",
        "replace",
        "translate",
        "substr",
        "substring",
        "left",
        "right",
        "strpos",
        "position",
        "split_part",
        "repeat",
        "reverse",
        "to_char",
        "to_hex",
        "date_trunc",
        "date_part",
        "extract",
        "age",
        "make_interval",
        "justify_interval",
        "to_jsonb",
        "to_json",
        "jsonb_typeof",
        "json_typeof",
        "jsonb_strip_nulls",
        "jsonb_pretty",
        "row_to_json",
        "cardinality",
        "array_to_string",
        "array_cat",
        "array_append",
        "array_prepend",
        "array_remove",
        "array_replace",
        "ascii",
        "chr",
        "quote_ident",
        "quote_literal",
        "encode",
        "decode",
        "convert_to",
        "convert_from",
        "starts_with",
        "regexp_replace",
        "string_to_array",
        "text",
        "int4",
        "int8",
        "numeric",
        "float8",
        "bool",
        "timezone",
    ]
)
# Functions that never return NULL.
_NEVER_NULL = frozenset(
    [
        "now",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "gen_random_uuid",
        "random",
        "concat",
        "concat_ws",
        "jsonb_build_object",
        "jsonb_build_array",
        "json_build_object",
        "json_build_array",
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "count",
        "pg_backend_pid",
        "current_database",
        "version",
        "format",
    ]
)
# Aggregates: NULL over an empty input (or when every input is NULL).
_AGGREGATES = frozenset(
    [
        "sum",
        "avg",
        "min",
        "max",
        "array_agg",
        "string_agg",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "bool_and",
        "bool_or",
        "every",
        "bit_and",
        "bit_or",
        "stddev",
        "variance",
    ]
)
# System columns every table row has.
_SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
# Operators that can yield NULL for non-null operands (missing JSON key or path).
_NULLABLE_OPS = frozenset({"->", "->>", "#>", "#>>"})


class Analyzer:
    """Works out result-column nullability for one statement."""

    def __init__(self, catalog: Catalog, param_nullable: dict[int, bool]) -> None:
        self.catalog = catalog
        self.param_nullable = param_nullable

    # ---- statements -------------------------------------------------------------------
    def statement(self, stmt: Any) -> list[OutColumn]:
        if isinstance(stmt, ast.SelectStmt):
            return self.select(stmt, None)
        if isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
            return self.modify(stmt)
        return []

    def _with(self, with_clause: Any, scope: Scope) -> None:
        if with_clause is None:
            return
        for cte in with_clause.ctes or ():
            name = cte.ctename
            query = cte.ctequery
            if with_clause.recursive and isinstance(query, ast.SelectStmt) and query.op:
                # Seed the recursive reference with the non-recursive term, then redo.
                seed = self.select(query.larg, scope)
                scope.ctes[name] = self._rename([(c.name, c.nullable) for c in seed], cte)
            cols = self.statement_in(query, scope)
            scope.ctes[name] = self._rename([(c.name, c.nullable) for c in cols], cte)

    @staticmethod
    def _rename(cols: list[tuple[str, bool]], cte: Any) -> list[tuple[str, bool]]:
        names = [n.sval for n in (cte.aliascolnames or ())]
        return [(names[i] if i < len(names) else c[0], c[1]) for i, c in enumerate(cols)]

    def statement_in(self, stmt: Any, parent: Scope) -> list[OutColumn]:
        if isinstance(stmt, ast.SelectStmt):
            return self.select(stmt, parent)
        if isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
            return self.modify(stmt, parent)
        return []

    def select(self, stmt: ast.SelectStmt, parent: Scope | None) -> list[OutColumn]:
        scope = Scope(parent=parent)
        self._with(stmt.withClause, scope)
        if stmt.op and stmt.op != SetOperation.SETOP_NONE:
            left = self.select(stmt.larg, scope)
            right = self.select(stmt.rarg, scope)
            out = []
            for i, col in enumerate(left):
                r_null = right[i].nullable if i < len(right) else True
                if stmt.op == SetOperation.SETOP_UNION:
                    nullable = col.nullable or r_null
                elif stmt.op == SetOperation.SETOP_INTERSECT:
                    nullable = col.nullable and r_null
                else:  # EXCEPT keeps left rows
                    nullable = col.nullable
                out.append(OutColumn(col.name, nullable, location=col.location))
            return out
        if stmt.valuesLists:
            rows = stmt.valuesLists
            width = len(rows[0]) if rows else 0
            return [
                OutColumn(
                    f"column{i + 1}", any(self.expr(row[i], scope) for row in rows if i < len(row))
                )
                for i in range(width)
            ]
        for item in stmt.fromClause or ():
            scope.items.extend(self.from_item(item, scope))
        scope.grouped = bool(stmt.groupClause)
        self._collect_not_null(stmt.whereClause, scope)
        return self.target_list(stmt.targetList or (), scope)

    def modify(self, stmt: Any, parent: Scope | None = None) -> list[OutColumn]:
        scope = Scope(parent=parent)
        self._with(stmt.withClause, scope)
        rel = stmt.relation
        table = self.catalog.table(_qualname(rel))
        alias = rel.alias.aliasname if rel.alias else rel.relname
        if table is not None:
            scope.items.append(
                RangeItem(alias, [(c.name, not c.not_null) for c in table.columns], table)
            )
        for item in getattr(stmt, "fromClause", None) or getattr(stmt, "usingClause", None) or ():
            scope.items.extend(self.from_item(item, scope))
        returning = getattr(stmt, "returningList", None)
        if returning is None and getattr(stmt, "returningClause", None) is not None:
            returning = stmt.returningClause.exprs
        return self.target_list(returning or (), scope)

    # ---- FROM ----------------------------------------------------------------------------
    def from_item(self, item: Any, scope: Scope) -> list[RangeItem]:
        if isinstance(item, ast.RangeVar):
            name = item.relname
            alias = item.alias.aliasname if item.alias else name
            cte_cols = scope.cte(name) if not item.schemaname else None
            if cte_cols is not None:
                return [RangeItem(alias, self._aliased(list(cte_cols), item.alias))]
            table = self.catalog.table(_qualname(item))
            if table is None:
                return [RangeItem(alias, [])]
            cols = [(c.name, not c.not_null) for c in table.columns]
            return [RangeItem(alias, self._aliased(cols, item.alias), table)]
        if isinstance(item, ast.RangeSubselect):
            # A LATERAL sub-query sees the items before it; any other only outer queries and CTEs.
            inner_parent = scope if item.lateral else Scope(parent=scope.parent, ctes=scope.ctes)
            sub_cols = self.statement_in(item.subquery, inner_parent)
            alias = item.alias.aliasname if item.alias else ""
            pairs = [(c.name, c.nullable) for c in sub_cols]
            return [RangeItem(alias, self._aliased(pairs, item.alias))]
        if isinstance(item, ast.JoinExpr):
            left = self.from_item(item.larg, scope)
            right = self.from_item(item.rarg, scope)
            jt = item.jointype
            if jt in (JoinType.JOIN_LEFT, JoinType.JOIN_FULL):
                for r in right:
                    r.outer_nullable = True
            if jt in (JoinType.JOIN_RIGHT, JoinType.JOIN_FULL):
                for r in left:
                    r.outer_nullable = True
            items = left + right
            if item.alias is not None:  # (a JOIN b) AS j: columns reachable through j
                merged = [(n, nl or it.outer_nullable) for it in items for n, nl in it.columns]
                items = [*items, RangeItem(item.alias.aliasname, self._aliased(merged, item.alias))]
            return items
        if isinstance(item, ast.RangeFunction):
            alias = item.alias.aliasname if item.alias else ""
            names: list[str] = []
            if item.alias and item.alias.colnames:
                names = [c.sval for c in item.alias.colnames]
            elif item.coldeflist:
                names = [c.colname for c in item.coldeflist]
            else:
                for func in item.functions or ():
                    call = func[0] if isinstance(func, tuple) else func
                    if isinstance(call, ast.FuncCall):
                        names.append(call.funcname[-1].sval)
                if item.alias and len(names) == 1:
                    names = [alias]
            cols = [(n, True) for n in names]
            if item.ordinality and cols:
                cols[-1] = (cols[-1][0], False)
            return [RangeItem(alias, cols)]
        return []

    @staticmethod
    def _aliased(cols: list[tuple[str, bool]], alias: Any) -> list[tuple[str, bool]]:
        if alias is None or not alias.colnames:
            return cols
        names = [c.sval for c in alias.colnames]
        return [(names[i] if i < len(names) else c[0], c[1]) for i, c in enumerate(cols)]

    def _collect_not_null(self, where: Any, scope: Scope) -> None:
        """`WHERE x IS NOT NULL` (as a top-level conjunct) makes x non-null in the result."""
        if where is None:
            return
        conjuncts = (
            list(where.args)
            if isinstance(where, ast.BoolExpr) and where.boolop == 0  # AND_EXPR
            else [where]
        )
        for c in conjuncts:
            if (
                isinstance(c, ast.NullTest)
                and c.nulltesttype == 1
                and isinstance(c.arg, ast.ColumnRef)
            ):
                ref = _colref(c.arg)
                if ref is not None:
                    scope.not_null_refs.add(ref)

    # ---- select list -----------------------------------------------------------------------
    def target_list(self, targets: Sequence[Any], scope: Scope) -> list[OutColumn]:
        out: list[OutColumn] = []
        for target in targets:
            val = target.val
            if isinstance(val, ast.ColumnRef) and isinstance(val.fields[-1], ast.A_Star):
                qual = val.fields[-2].sval if len(val.fields) > 1 else None
                for item in scope.items:
                    if qual is not None and item.alias != qual:
                        continue
                    for name, nullable in item.columns:
                        out.append(
                            OutColumn(
                                name,
                                nullable or item.outer_nullable,
                                star_of=item.alias if qual is not None else None,
                                star_table=item.table,
                                star_outer=item.outer_nullable,
                                location=target.location,
                            )
                        )
                continue
            name = target.name or _figure_name(val)
            out.append(OutColumn(name, self.expr(val, scope), location=target.location))
        return out

    # ---- expressions -----------------------------------------------------------------------
    def column_nullable(self, ref: ast.ColumnRef, scope: Scope) -> bool:
        parts = [f.sval for f in ref.fields if isinstance(f, ast.String)]
        if not parts:
            return True
        col = parts[-1]
        qual = parts[-2] if len(parts) >= 2 else None
        if col in _SYSTEM_COLUMNS:
            return False
        s: Scope | None = scope
        while s is not None:
            if (qual, col) in s.not_null_refs:
                return False
            matches = [
                (item, nullable)
                for item in s.items
                if qual is None or item.alias == qual
                for name, nullable in item.columns
                if name == col
            ]
            if matches:
                return all(nullable or item.outer_nullable for item, nullable in matches)
            if qual is not None and any(item.alias == qual for item in s.items):
                return True  # whole-row reference or unknown column
            s = s.parent
        return True

    def expr(self, node: Any, scope: Scope) -> bool:
        """True when the expression may be NULL."""
        if node is None:
            return True
        if isinstance(node, ast.ColumnRef):
            return self.column_nullable(node, scope)
        if isinstance(node, ast.A_Const):
            return bool(node.isnull)
        if isinstance(node, ast.ParamRef):
            return self.param_nullable.get(node.number, True)
        if isinstance(node, ast.TypeCast | ast.CollateClause):
            return self.expr(node.arg, scope)
        if isinstance(node, ast.NullTest | ast.BooleanTest):
            return False
        if isinstance(node, ast.A_ArrayExpr | ast.RowExpr | ast.SQLValueFunction):
            return False
        if isinstance(node, ast.CoalesceExpr | ast.MinMaxExpr):
            return all(self.expr(a, scope) for a in node.args)
        if isinstance(node, ast.CaseExpr):
            if node.defresult is None:
                return True
            return any(self.expr(w.result, scope) for w in node.args) or self.expr(
                node.defresult, scope
            )
        if isinstance(node, ast.BoolExpr):
            return any(self.expr(a, scope) for a in node.args)
        if isinstance(node, ast.A_Expr):
            return self._a_expr(node, scope)
        if isinstance(node, ast.FuncCall):
            return self._func(node, scope)
        if isinstance(node, ast.SubLink):
            return self._sublink(node, scope)
        return not isinstance(node, ast.GroupingFunc)

    def _a_expr(self, node: ast.A_Expr, scope: Scope) -> bool:
        kind = node.kind
        if kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return False
        if kind == A_Expr_Kind.AEXPR_NULLIF:
            return True
        if kind == A_Expr_Kind.AEXPR_OP and node.name and node.name[-1].sval in _NULLABLE_OPS:
            return True
        operands: list[Any] = []
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, tuple | list):
                operands.extend(side)
            elif side is not None:
                operands.append(side)
        return any(self.expr(o, scope) for o in operands)

    def _func(self, node: ast.FuncCall, scope: Scope) -> bool:
        name = node.funcname[-1].sval.lower()
        args = node.args or ()
        if name == "count" or (node.over is not None and name in _NEVER_NULL):
            return False
        if name in _AGGREGATES:
            if name in ("array_agg", "string_agg", "json_agg", "jsonb_agg") or node.agg_filter:
                return True
            # Grouped rows are never empty: the aggregate is NULL only if every input is.
            return not scope.grouped or any(self.expr(a, scope) for a in args)
        if name in _NEVER_NULL:
            return False
        if name in _STRICT_TOTAL:
            return any(self.expr(a, scope) for a in args)
        return True

    def _sublink(self, node: ast.SubLink, scope: Scope) -> bool:
        kind = node.subLinkType
        if kind in (SubLinkType.EXISTS_SUBLINK, SubLinkType.ARRAY_SUBLINK):
            return False
        if kind == SubLinkType.EXPR_SUBLINK and isinstance(node.subselect, ast.SelectStmt):
            sub = node.subselect
            cols = self.select(sub, scope)
            # An aggregate without GROUP BY yields exactly one row, so its value decides.
            if cols and _single_row_aggregate(sub):
                return cols[0].nullable
            return True
        return True


def _single_row_aggregate(sub: Any) -> bool:
    if sub.op or sub.groupClause or sub.havingClause or sub.limitCount or sub.limitOffset:
        return False
    targets: list[Any] = list(sub.targetList or ())
    return len(targets) == 1 and _is_aggregate_expr(targets[0].val)


def _is_aggregate_expr(node: Any) -> bool:
    if isinstance(node, ast.FuncCall):
        name = node.funcname[-1].sval.lower()
        return node.over is None and (name == "count" or name in _AGGREGATES)
    if isinstance(node, ast.CoalesceExpr):
        return any(_is_aggregate_expr(a) for a in node.args)
    if isinstance(node, ast.TypeCast):
        return _is_aggregate_expr(node.arg)
    return False


def _qualname(rv: ast.RangeVar) -> str:
    return f"{rv.schemaname}.{rv.relname}" if rv.schemaname else rv.relname


def _colref(ref: ast.ColumnRef) -> tuple[str | None, str] | None:
    parts = [f.sval for f in ref.fields if isinstance(f, ast.String)]
    if not parts:
        return None
    return (parts[-2] if len(parts) >= 2 else None, parts[-1])


def _figure_name(node: Any) -> str:
    """PostgreSQL's FigureColname, for the cases that matter."""
    if isinstance(node, ast.ColumnRef):
        last = node.fields[-1]
        return last.sval if isinstance(last, ast.String) else "?column?"
    if isinstance(node, ast.FuncCall):
        return str(node.funcname[-1].sval)
    if isinstance(node, ast.TypeCast):
        inner = _figure_name(node.arg)
        return inner if inner != "?column?" else str(node.typeName.names[-1].sval)
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce"
    if isinstance(node, ast.CaseExpr):
        return "case"
    if isinstance(node, ast.SubLink):
        if node.subLinkType == SubLinkType.EXISTS_SUBLINK:
            return "exists"
        if node.subLinkType == SubLinkType.ARRAY_SUBLINK:
            return "array"
        sub = node.subselect
        if isinstance(sub, ast.SelectStmt) and sub.targetList:
            t = sub.targetList[0]
            return str(t.name) if t.name else _figure_name(t.val)
    return "?column?"
