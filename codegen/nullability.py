"""Nullability of result columns, from the query's syntax tree and the catalog.

The server reports types but not nullability, so we work it out, and say why (``explain``):

- a column read from a table is non-null when it is NOT NULL and its table is not on the
  nullable side of an outer join -- unless a later predicate proves the row present (a WHERE
  conjunct or an inner join's ON that rejects NULL in one of its columns);
- a column is non-null where a WHERE conjunct or a ``CASE WHEN x IS NOT NULL`` guard (or a
  comparison, which is never true for NULL) rules NULL out;
- CTEs, sub-queries, views and ``UPDATE/INSERT ... RETURNING`` (with the values written) are
  analysed recursively; ``pg_catalog``/``information_schema`` relations are read on demand;
- a function call is decided from the catalog: a built-in STRICT function is NULL exactly when
  an argument is (a short documented list of exceptions below), an aggregate over a possibly
  empty input is nullable (not ``count``), SQL/PL functions may return NULL;
- ``NULLIF(col, k)`` is non-null when a CHECK constraint excludes ``k``; ``COALESCE`` with a
  non-null argument, ``EXISTS``, ``IS [NOT] NULL``, comparisons of non-null operands are non-null;
  UNION is nullable where any branch is.

Unknown constructs are nullable: a wrong "nullable" costs a check, a wrong "non-null" a crash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast as pg_ast
from pglast.enums import A_Expr_Kind, JoinType, SetOperation, SubLinkType
from pglast.parser import ParseError, parse_sql

from codegen.catalog import Catalog, Proc, Table

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
    aliased: bool = False  # named by `AS` in the query (only then may `!`/`?` override)
    reason: str = ""  # the rule that decided its nullability


@dataclass
class RangeItem:
    alias: str
    columns: list[tuple[str, bool]]  # (name, nullable) in order
    table: Table | None = None
    outer_nullable: bool = False  # on the nullable side of an outer join
    what: str = ""  # for reasons: "table authors", "CTE counts", "sub-query s"...
    why: dict[str, str] = field(default_factory=dict)  # column -> reason, where known


@dataclass
class Scope:
    items: list[RangeItem] = field(default_factory=list)
    parent: Scope | None = None
    ctes: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    cte_why: dict[str, dict[str, str]] = field(default_factory=dict)  # CTE -> column -> reason
    not_null_refs: dict[tuple[str | None, str], str] = field(default_factory=dict)
    grouped: bool = False  # GROUP BY present: aggregates see non-empty groups

    def cte(self, name: str) -> list[tuple[str, bool]] | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.ctes:
                return scope.ctes[name]
            scope = scope.parent
        return None


# Function nullability comes from the catalog: a built-in (C/internal) STRICT function returns
# NULL exactly when an argument is NULL -- except these strict built-ins, which can return NULL
# for non-null input (an empty array's bounds, a missing JSON key, an unmatched pattern, a
# missing setting, an invalid object name, scale of NaN, NULL elements of arrays/JSON...).
# Matched against the function's name and its C symbol (prosrc).
_STRICT_CAN_RETURN_NULL = frozenset(
    """array_length array_upper array_lower array_ndims array_dims array_position
    regexp_match regexp_substr textregexsubstr show_config_by_name_missing_ok
    jsonb_extract_path jsonb_extract_path_text json_extract_path json_extract_path_text
    jsonb_path_query_first jsonb_object_field jsonb_object_field_text json_object_field
    json_object_field_text jsonb_array_element jsonb_array_element_text json_array_element
    json_array_element_text to_regclass to_regtype to_regproc to_regprocedure to_regoper
    to_regoperator to_regnamespace to_regrole to_regcollation inet_client_addr
    inet_client_port inet_server_addr inet_server_port pg_xact_commit_timestamp txid_status
    pg_last_xact_replay_timestamp pg_last_wal_receive_lsn pg_last_wal_replay_lsn
    obj_description col_description shobj_description scale unnest
    jsonb_array_elements_text json_array_elements_text string_to_table
    jsonb_populate_record json_populate_record""".split()
)
# Built-ins that are not STRICT (they take NULL arguments) but whose result is known:
# "never" NULL, NULL only when the "first" argument is, or only when "all" arguments are.
_NON_STRICT = {
    **dict.fromkeys(
        "concat json_build_object jsonb_build_object json_build_array jsonb_build_array "
        "num_nulls num_nonnulls array_append array_prepend row_number rank dense_rank "
        "percent_rank cume_dist ntile count".split(),
        "never",
    ),
    **dict.fromkeys("concat_ws format array_remove array_replace".split(), "first"),
    "array_cat": "all",
}
# System columns every table row has.
_SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
# Operators that can yield NULL for non-null operands (missing JSON key or path).
_NULLABLE_OPS = frozenset({"->", "->>", "#>", "#>>"})


# Aggregates: NULL over an empty input (or when every input is NULL).
_AGGREGATES = frozenset(
    "sum avg min max array_agg string_agg json_agg jsonb_agg json_object_agg jsonb_object_agg "
    "bool_and bool_or every bit_and bit_or stddev variance".split()
)
# System columns every table row has.
_SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
# Operators that can yield NULL for non-null operands (missing JSON key or path).
_NULLABLE_OPS = frozenset({"->", "->>", "#>", "#>>"})
# Predicate forms that are never true when their column operand is NULL.
_NULL_REJECTING = frozenset(
    {
        A_Expr_Kind.AEXPR_OP,
        A_Expr_Kind.AEXPR_OP_ANY,
        A_Expr_Kind.AEXPR_IN,
        A_Expr_Kind.AEXPR_LIKE,
        A_Expr_Kind.AEXPR_ILIKE,
        A_Expr_Kind.AEXPR_SIMILAR,
        A_Expr_Kind.AEXPR_BETWEEN,
        A_Expr_Kind.AEXPR_NOT_BETWEEN,
        A_Expr_Kind.AEXPR_BETWEEN_SYM,
        A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM,
    }
)
_INT_TYPES = frozenset({20, 21, 23, 1700, 700, 701})  # int8 int2 int4 numeric float4 float8


class Analyzer:
    """Works out result-column nullability for one statement, with the reason for each."""

    def __init__(self, catalog: Catalog, param_nullable: dict[int, bool]) -> None:
        self.catalog = catalog
        self.param_nullable = param_nullable
        self.reason = ""  # why the last expression was decided as it was

    def _is(self, nullable: bool, reason: str) -> bool:
        self.reason = reason
        return nullable

    def _any(self, nodes: Sequence[Any], scope: Scope) -> tuple[bool, str]:
        """Whether any of ``nodes`` may be NULL, and why the first such one may."""
        for n in nodes:
            if self.expr(n, scope):
                return True, self.reason
        return False, ""

    # ---- statements -------------------------------------------------------------------
    def statement(self, stmt: Any) -> list[OutColumn]:
        if isinstance(stmt, ast.SelectStmt):
            return self.select(stmt, None)
        if isinstance(stmt, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
            return self.modify(stmt)
        return []

    def infer_view(self, table: Table) -> None:
        """Views report every column nullable; analyse their SELECT like a query."""
        table.analyzed = True
        try:
            stmt = parse_sql(table.definition)[0].stmt
        except ParseError:
            return
        cols = Analyzer(self.catalog, {}).statement(stmt)
        if len(cols) != len(table.columns):
            return
        table.columns = [
            dataclasses.replace(c, not_null=not out.nullable)
            for c, out in zip(table.columns, cols, strict=True)
        ]

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
            renamed = [n for n, _ in scope.ctes[name]]
            scope.cte_why[name] = {n: c.reason for n, c in zip(renamed, cols, strict=False)}

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
                    why = "a UNION branch may be NULL" if nullable else "every UNION branch"
                elif stmt.op == SetOperation.SETOP_INTERSECT:
                    nullable = col.nullable and r_null
                    why = "INTERSECT of its branches"
                else:  # EXCEPT keeps left rows
                    nullable = col.nullable
                    why = "EXCEPT keeps the left branch"
                out.append(OutColumn(col.name, nullable, location=col.location, reason=why))
            return out
        if stmt.valuesLists:
            rows = stmt.valuesLists
            width = len(rows[0]) if rows else 0
            return [
                OutColumn(
                    f"column{i + 1}",
                    any(self.expr(row[i], scope) for row in rows if i < len(row)),
                    reason="VALUES rows",
                )
                for i in range(width)
            ]
        for item in stmt.fromClause or ():
            scope.items.extend(self.from_item(item, scope))
        scope.grouped = bool(stmt.groupClause)
        self._null_rejecting(stmt.whereClause, scope, scope.items, "WHERE")
        return self.target_list(stmt.targetList or (), scope)

    def modify(self, stmt: Any, parent: Scope | None = None) -> list[OutColumn]:
        scope = Scope(parent=parent)
        self._with(stmt.withClause, scope)
        rel = stmt.relation
        table = self.catalog.table(_qualname(rel))
        alias = rel.alias.aliasname if rel.alias else rel.relname
        target: RangeItem | None = None
        if table is not None:
            target = RangeItem(
                alias,
                [(c.name, not c.not_null) for c in table.columns],
                table,
                what=f"table {table.name}",
            )
            scope.items.append(target)
        for item in getattr(stmt, "fromClause", None) or getattr(stmt, "usingClause", None) or ():
            scope.items.extend(self.from_item(item, scope))
        self._null_rejecting(getattr(stmt, "whereClause", None), scope, scope.items, "WHERE")
        if target is not None:
            self._written_values(stmt, target, scope)
        if isinstance(stmt, ast.UpdateStmt):
            # WHERE saw the old values; RETURNING sees the new ones of the columns SET.
            assigned = {t.name for t in stmt.targetList or ()}
            for ref in [r for r in scope.not_null_refs if r[1] in assigned]:
                del scope.not_null_refs[ref]
        returning = getattr(stmt, "returningList", None)
        if returning is None and getattr(stmt, "returningClause", None) is not None:
            returning = stmt.returningClause.exprs
        return self.target_list(returning or (), scope)

    def _written_values(self, stmt: Any, target: RangeItem, scope: Scope) -> None:
        """RETURNING sees the values written: a nullable column SET (or inserted) to a
        non-null value is non-null in the returned row."""
        written: dict[str, bool] = {}
        if isinstance(stmt, ast.UpdateStmt):
            for t in stmt.targetList or ():
                if t.name and not t.indirection and not isinstance(t.val, ast.MultiAssignRef):
                    written[t.name] = self.expr(t.val, scope)
        elif isinstance(stmt, ast.InsertStmt) and stmt.cols and stmt.onConflictClause is None:
            select = stmt.selectStmt
            names = [c.name for c in stmt.cols]
            if select is not None and select.valuesLists:
                for i, name in enumerate(names):
                    written[name] = any(
                        self.expr(row[i], scope) for row in select.valuesLists if i < len(row)
                    )
            elif isinstance(select, ast.SelectStmt):
                cols = self.select(select, scope)
                if len(cols) == len(names):
                    written = {n: c.nullable for n, c in zip(names, cols, strict=True)}
        for i, (name, nullable) in enumerate(target.columns):
            if nullable and name in written and not written[name]:
                target.columns[i] = (name, False)
                target.why[name] = f"set to a non-null value by this {_verb(stmt)}"

    # ---- FROM ----------------------------------------------------------------------------
    def from_item(self, item: Any, scope: Scope) -> list[RangeItem]:
        if isinstance(item, ast.RangeVar):
            name = item.relname
            alias = item.alias.aliasname if item.alias else name
            cte_cols = scope.cte(name) if not item.schemaname else None
            if cte_cols is not None:
                why = {} if item.alias and item.alias.colnames else self._cte_why(scope, name)
                return [
                    RangeItem(
                        alias,
                        self._aliased(list(cte_cols), item.alias),
                        what=f"CTE {name}",
                        why=dict(why),
                    )
                ]

            table = self.catalog.table(_qualname(item))
            if table is None:
                return [RangeItem(alias, [])]
            if table.system and table.definition and not table.analyzed:
                self.infer_view(table)
            cols = [(c.name, not c.not_null) for c in table.columns]
            kind = "view" if table.definition else "table"
            return [
                RangeItem(
                    alias, self._aliased(cols, item.alias), table, what=f"{kind} {table.name}"
                )
            ]
        if isinstance(item, ast.RangeSubselect):
            # A LATERAL sub-query sees the items before it; any other only outer queries and CTEs.
            inner_parent = scope if item.lateral else Scope(parent=scope.parent, ctes=scope.ctes)
            sub_cols = self.statement_in(item.subquery, inner_parent)
            alias = item.alias.aliasname if item.alias else ""
            pairs = [(c.name, c.nullable) for c in sub_cols]
            why = {} if item.alias and item.alias.colnames else {c.name: c.reason for c in sub_cols}
            return [
                RangeItem(
                    alias, self._aliased(pairs, item.alias), what=f"sub-query {alias}", why=why
                )
            ]

        if isinstance(item, ast.JoinExpr):
            left = self.from_item(item.larg, scope)
            right = self.from_item(item.rarg, scope)
            jt = item.jointype
            if jt in (JoinType.JOIN_LEFT, JoinType.JOIN_FULL) and not _always_matches(item):
                for r in right:
                    r.outer_nullable = True
            if jt in (JoinType.JOIN_RIGHT, JoinType.JOIN_FULL):
                for r in left:
                    r.outer_nullable = True
            items = left + right
            if jt == JoinType.JOIN_INNER and item.quals is not None:
                self._null_rejecting(item.quals, scope, items, "an inner join's ON")
            if item.alias is not None:  # (a JOIN b) AS j: columns reachable through j
                merged = [(n, nl or it.outer_nullable) for it in items for n, nl in it.columns]
                items = [
                    *items,
                    RangeItem(item.alias.aliasname, self._aliased(merged, item.alias), what="join"),
                ]
            return items
        if isinstance(item, ast.RangeFunction):
            return [self._range_function(item, scope)]
        return []

    def _range_function(self, item: Any, scope: Scope) -> RangeItem:
        alias = item.alias.aliasname if item.alias else ""
        calls = [f[0] if isinstance(f, tuple) else f for f in item.functions or ()]
        names: list[str] = []
        if item.alias and item.alias.colnames:
            names = [c.sval for c in item.alias.colnames]
        elif item.coldeflist:
            names = [c.colname for c in item.coldeflist]
        else:
            names = [c.funcname[-1].sval for c in calls if isinstance(c, ast.FuncCall)]
            if item.alias and len(names) == 1:
                names = [alias]
        why: dict[str, str] = {}
        # One scalar function per column (no column definition list): the catalog decides.
        if len(calls) == len(names) and not item.coldeflist and not item.ordinality:
            cols = []
            for name, call in zip(names, calls, strict=True):
                cols.append((name, not isinstance(call, ast.FuncCall) or self._func(call, scope)))
                why[name] = self.reason
        elif len(calls) == 1 and not item.coldeflist and len(names) == 2 and item.ordinality:
            nullable = not isinstance(calls[0], ast.FuncCall) or self._func(calls[0], scope)
            cols = [(names[0], nullable), (names[1], False)]
            why[names[0]] = self.reason
        else:
            cols = [(n, True) for n in names]
            if item.ordinality and cols:
                cols[-1] = (cols[-1][0], False)
        return RangeItem(alias, cols, what=f"function {alias}", why=why)

    @staticmethod
    def _cte_why(scope: Scope, name: str) -> dict[str, str]:
        s: Scope | None = scope
        while s is not None:
            if name in s.cte_why:
                return s.cte_why[name]
            s = s.parent
        return {}

    @staticmethod
    def _aliased(cols: list[tuple[str, bool]], alias: Any) -> list[tuple[str, bool]]:
        if alias is None or not alias.colnames:
            return cols
        names = [c.sval for c in alias.colnames]
        return [(names[i] if i < len(names) else c[0], c[1]) for i, c in enumerate(cols)]

    def _null_rejecting(
        self, where: Any, scope: Scope, items: list[RangeItem], clause: str
    ) -> None:
        """Columns a top-level conjunct cannot be true for when NULL (``x IS NOT NULL``,
        ``x = ...``, ``x IN (...)``, a bare boolean ``x``) are non-null after it, and so is
        the row holding them: an outer-joined item it names is proven present."""
        for ref in _rejected_refs(where):
            qual, col = ref
            scope.not_null_refs.setdefault(ref, f"{clause} rules out NULL in {_refname(ref)}")
            for it in items:
                named = (qual is None or it.alias == qual) and any(n == col for n, _ in it.columns)
                if named and it.outer_nullable:
                    it.outer_nullable = False
                    it.why.setdefault(
                        "*", f"outer-joined {it.what or it.alias} is proven present by {clause}"
                    )

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
                        reason = self._item_reason(item, name, nullable)
                        out.append(
                            OutColumn(
                                name,
                                nullable or item.outer_nullable,
                                star_of=item.alias if qual is not None else None,
                                star_table=item.table,
                                star_outer=item.outer_nullable,
                                location=target.location,
                                reason=reason,
                            )
                        )
                continue
            name = target.name or _figure_name(val)
            nullable = self.expr(val, scope)
            out.append(
                OutColumn(
                    name,
                    nullable,
                    location=target.location,
                    aliased=bool(target.name),
                    reason=self.reason,
                )
            )
        return out

    @staticmethod
    def _item_reason(item: RangeItem, name: str, nullable: bool) -> str:
        where = item.what or item.alias or "its source"
        if item.outer_nullable:
            return f"{where} is on the nullable side of an outer join"
        if name in item.why:
            inner = item.why[name]
            return f"{where}: {inner}" if item.table is None else inner
        if item.table is not None and not item.table.definition:
            state = "nullable" if nullable else "NOT NULL"
            return f"column {item.table.name}.{name} is {state}"
        state = "may be NULL" if nullable else "is never NULL"
        base = f"column {name} of {where} {state}"
        return f"{base} ({item.why['*']})" if "*" in item.why else base

    # ---- expressions -----------------------------------------------------------------------
    def column_nullable(self, ref: ast.ColumnRef, scope: Scope) -> bool:
        parts = [f.sval for f in ref.fields if isinstance(f, ast.String)]
        if not parts:
            return self._is(True, "a whole-row or unknown reference")
        col = parts[-1]
        qual = parts[-2] if len(parts) >= 2 else None
        if col in _SYSTEM_COLUMNS:
            return self._is(False, f"system column {col}")
        s: Scope | None = scope
        while s is not None:
            guard = next(
                (
                    why
                    for (q, c), why in s.not_null_refs.items()
                    if c == col and (q is None or qual is None or q == qual)
                ),
                None,
            )
            matches = [
                (item, nullable)
                for item in s.items
                if qual is None or item.alias == qual
                for name, nullable in item.columns
                if name == col
            ]
            # An outer join's NULL row beats a predicate evaluated before the join added it.
            for item, nullable in matches:
                if item.outer_nullable:
                    return self._is(True, self._item_reason(item, col, nullable))
            if guard is not None:
                return self._is(False, guard)
            if matches:
                for item, nullable in matches:
                    if nullable:
                        return self._is(True, self._item_reason(item, col, nullable))
                item, nullable = matches[0]
                return self._is(False, self._item_reason(item, col, nullable))
            if qual is not None and any(item.alias == qual for item in s.items):
                return self._is(True, f"{qual}.{col}: a whole-row or unknown column")
            s = s.parent
        return self._is(True, f"{_refname((qual, col))}: not found in the query's FROM")

    def expr(self, node: Any, scope: Scope) -> bool:
        """True when the expression may be NULL (``self.reason`` says why)."""
        if node is None:
            return self._is(True, "no expression")
        if isinstance(node, ast.ColumnRef):
            return self.column_nullable(node, scope)
        if isinstance(node, ast.A_Const):
            return self._is(bool(node.isnull), "NULL" if node.isnull else "a constant")
        if isinstance(node, ast.ParamRef):
            nullable = self.param_nullable.get(node.number, True)
            return self._is(
                nullable, f"parameter ${node.number} is {'nullable' if nullable else 'required'}"
            )
        if isinstance(node, ast.TypeCast | ast.CollateClause | ast.NamedArgExpr):
            return self.expr(node.arg, scope)
        if isinstance(node, ast.NullTest | ast.BooleanTest):
            return self._is(False, "IS [NOT] NULL / IS TRUE tests are never NULL")
        if isinstance(node, ast.A_ArrayExpr | ast.RowExpr | ast.SQLValueFunction):
            return self._is(False, "an ARRAY[...], ROW(...) or SQL value function")
        if isinstance(node, ast.CoalesceExpr | ast.MinMaxExpr):
            kind = "COALESCE" if isinstance(node, ast.CoalesceExpr) else "GREATEST/LEAST"
            for a in node.args:
                if not self.expr(a, scope):
                    return self._is(False, f"{kind} has a non-null argument ({self.reason})")
            return self._is(True, f"{kind}: every argument may be NULL")
        if isinstance(node, ast.CaseExpr):
            return self._case(node, scope)
        if isinstance(node, ast.BoolExpr):
            nullable, why = self._any(node.args, scope)
            return self._is(nullable, why or "boolean of non-null operands")
        if isinstance(node, ast.A_Expr):
            return self._a_expr(node, scope)
        if isinstance(node, ast.FuncCall):
            return self._func(node, scope)
        if isinstance(node, ast.SubLink):
            return self._sublink(node, scope)
        if isinstance(node, ast.GroupingFunc):
            return self._is(False, "GROUPING() is never NULL")
        return self._is(True, f"{type(node).__name__} may be NULL (not analysed)")

    def _case(self, node: Any, scope: Scope) -> bool:
        if node.defresult is None:
            return self._is(True, "CASE without ELSE")
        for w in node.args:
            # WHEN x IS NOT NULL (or x = ...) THEN x: x is non-null in that branch.
            guarded = Scope(parent=scope)
            for ref in _rejected_refs(w.expr):
                guarded.not_null_refs[ref] = f"guarded by CASE WHEN ({_refname(ref)} not NULL)"
            if self.expr(w.result, guarded):
                return self._is(True, f"a CASE branch may be NULL: {self.reason}")
        if self.expr(node.defresult, scope):
            return self._is(True, f"CASE's ELSE may be NULL: {self.reason}")
        return self._is(False, "every CASE branch is non-null")

    def _a_expr(self, node: ast.A_Expr, scope: Scope) -> bool:
        kind = node.kind
        if kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            return self._is(False, "IS [NOT] DISTINCT FROM is never NULL")
        if kind == A_Expr_Kind.AEXPR_NULLIF:
            return self._nullif(node, scope)
        if kind == A_Expr_Kind.AEXPR_OP and node.name and node.name[-1].sval in _NULLABLE_OPS:
            return self._is(True, f"operator {node.name[-1].sval} may find no value")
        operands: list[Any] = []
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, tuple | list):
                operands.extend(side)
            elif side is not None:
                operands.append(side)
        nullable, why = self._any(operands, scope)
        return self._is(
            nullable,
            f"an operand may be NULL: {why}" if nullable else "an operator over non-null operands",
        )

    def _nullif(self, node: Any, scope: Scope) -> bool:
        """NULLIF(col, k) is NULL when col is NULL or equals k -- unless a CHECK rules k out."""
        if self.expr(node.lexpr, scope):
            return self._is(True, f"NULLIF of a nullable value: {self.reason}")
        col = node.lexpr
        const = _const_value(node.rexpr)
        if isinstance(col, ast.ColumnRef) and const is not None:
            table = self._table_of(col, scope)
            name = _colref(col)
            if table is not None and name is not None:
                for check in self.catalog.checks(table.oid):
                    if _check_excludes(check, name[1], const):
                        return self._is(False, f"NULLIF: CHECK ({check}) rules out {const!r}")
        return self._is(True, "NULLIF returns NULL when its arguments are equal")

    def _table_of(self, ref: Any, scope: Scope) -> Table | None:
        parts = _colref(ref)
        if parts is None:
            return None
        qual, col = parts
        s: Scope | None = scope
        while s is not None:
            for item in s.items:
                if (qual is None or item.alias == qual) and any(n == col for n, _ in item.columns):
                    return item.table
            s = s.parent
        return None

    def _func(self, node: ast.FuncCall, scope: Scope) -> bool:
        name = node.funcname[-1].sval.lower()
        schema = node.funcname[0].sval.lower() if len(node.funcname) > 1 else None
        args = list(node.args or ())
        if name == "count" and (schema in (None, "pg_catalog")):
            return self._is(False, "count() is never NULL")
        procs = [p for p in self.catalog.procs(name, schema) if _may_be_called(p, args)]
        if not procs:
            return self._is(True, f"{name}(): unknown function")
        if node.over is not None or all(p.kind == "w" for p in procs):
            if _NON_STRICT.get(name) == "never":
                return self._is(False, f"window function {name}() is never NULL")
            return self._is(True, f"window function {name}() may be NULL")
        if any(p.kind == "a" for p in procs):
            if name in ("array_agg", "string_agg", "json_agg", "jsonb_agg") or node.agg_filter:
                return self._is(True, f"aggregate {name}() is NULL over no rows")
            if name in _AGGREGATES and scope.grouped:
                # Grouped rows are never empty: the aggregate is NULL only if every input is.
                nullable, why = self._any(args, scope)
                return self._is(
                    nullable,
                    f"{name}() over a group whose input may be NULL: {why}"
                    if nullable
                    else f"{name}() over non-empty groups of non-null input",
                )
            return self._is(True, f"aggregate {name}() is NULL over no rows")
        if not all(p.builtin for p in procs):
            return self._is(True, f"{name}() is a SQL/PL function: it may return NULL")
        rule = _NON_STRICT.get(name)
        if any(not p.strict for p in procs):
            if rule == "never":
                return self._is(False, f"{name}() never returns NULL")
            if rule == "first" and args:
                nullable = self.expr(args[0], scope)
                return self._is(
                    nullable,
                    f"{name}() is NULL only when its first argument is: {self.reason}"
                    if nullable
                    else f"{name}() with a non-null first argument",
                )
            if rule == "all":
                for a in args:
                    if not self.expr(a, scope):
                        return self._is(False, f"{name}() has a non-null argument")
                return self._is(True, f"{name}(): every argument may be NULL")
            return self._is(True, f"{name}() is not STRICT: it may return NULL")
        if any(name in _STRICT_CAN_RETURN_NULL or p.src in _STRICT_CAN_RETURN_NULL for p in procs):
            return self._is(
                True, f"{name}() can return NULL for non-null input (documented exception)"
            )
        nullable, why = self._any(args, scope)
        if nullable:
            return self._is(True, f"{name}() is STRICT and an argument may be NULL: {why}")
        return self._is(False, f"{name}() is a STRICT built-in over non-null arguments")

    def _sublink(self, node: ast.SubLink, scope: Scope) -> bool:
        kind = node.subLinkType
        if kind in (SubLinkType.EXISTS_SUBLINK, SubLinkType.ARRAY_SUBLINK):
            return self._is(False, "EXISTS / ARRAY(sub-query) is never NULL")
        if kind == SubLinkType.EXPR_SUBLINK and isinstance(node.subselect, ast.SelectStmt):
            sub = node.subselect
            cols = self.select(sub, scope)
            # An aggregate without GROUP BY yields exactly one row, so its value decides.
            if cols and _one_row(sub):
                return self._is(cols[0].nullable, f"a one-row sub-query: {cols[0].reason}")
            return self._is(True, "a scalar sub-query may find no row")
        return self._is(True, "a sub-query comparison may be NULL")


def _verb(stmt: Any) -> str:
    return "UPDATE" if isinstance(stmt, ast.UpdateStmt) else "INSERT"


def _refname(ref: tuple[str | None, str]) -> str:
    return f"{ref[0]}.{ref[1]}" if ref[0] else ref[1]


def _conjuncts(node: Any) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, ast.BoolExpr) and node.boolop == 0:  # AND
        return [c for a in node.args for c in _conjuncts(a)]
    return [node]


def _strip_casts(node: Any) -> Any:
    while isinstance(node, ast.TypeCast | ast.CollateClause):
        node = node.arg
    return node


def _rejected_refs(where: Any) -> list[tuple[str | None, str]]:
    """Column references a predicate's top-level conjuncts require to be non-null."""
    out = []
    for c in _conjuncts(where):
        candidates: list[Any] = []
        if isinstance(c, ast.NullTest) and c.nulltesttype == 1:  # IS NOT NULL
            candidates = [c.arg]
        elif isinstance(c, ast.A_Expr) and c.kind in _NULL_REJECTING:
            candidates = [c.lexpr]
            if c.kind == A_Expr_Kind.AEXPR_OP:
                candidates.append(c.rexpr)
        elif isinstance(c, ast.ColumnRef):  # WHERE flag
            candidates = [c]
        for cand in candidates:
            cand = _strip_casts(cand)
            if isinstance(cand, ast.ColumnRef):
                ref = _colref(cand)
                if ref is not None:
                    out.append(ref)
    return out


def _always_matches(join: Any) -> bool:
    """LEFT JOIN LATERAL (one-row aggregate) ON true: the right side is always there."""
    right = join.rarg
    quals = join.quals
    is_true = quals is None or (
        isinstance(quals, ast.A_Const) and isinstance(quals.val, ast.Boolean) and quals.val.boolval
    )
    return (
        join.jointype == JoinType.JOIN_LEFT
        and is_true
        and isinstance(right, ast.RangeSubselect)
        and isinstance(right.subquery, ast.SelectStmt)
        and _one_row(right.subquery)
    )


def _one_row(sub: Any) -> bool:
    """A SELECT that yields exactly one row: aggregates only, no GROUP BY/HAVING/LIMIT."""
    if sub.op or sub.groupClause or sub.havingClause or sub.limitCount or sub.limitOffset:
        return False
    targets: list[Any] = list(sub.targetList or ())
    return bool(targets) and all(_is_aggregate_expr(t.val) for t in targets)


def _is_aggregate_expr(node: Any) -> bool:
    if isinstance(node, ast.FuncCall):
        name = node.funcname[-1].sval.lower()
        return node.over is None and (name == "count" or name in _AGGREGATES)
    if isinstance(node, ast.CoalesceExpr):
        return any(_is_aggregate_expr(a) for a in node.args)
    if isinstance(node, ast.TypeCast):
        return _is_aggregate_expr(node.arg)
    return False


def _may_be_called(proc: Proc, args: list[Any]) -> bool:
    """Could this overload be the one called with ``args``? (arity, and integer literals
    against text parameters: ``substring(x, 2)`` is not the regex ``substring(x, pattern)``)."""
    n = len(args)
    if not (
        proc.nargs - proc.ndefaults <= n <= proc.nargs or (proc.variadic and n >= proc.nargs - 1)
    ):
        return False
    for arg, typ in zip(args, proc.argtypes, strict=False):
        const = _strip_casts(arg) if not isinstance(arg, ast.TypeCast) else None
        if isinstance(const, ast.A_Const) and isinstance(const.val, ast.Integer) and typ == 25:
            return False
    return True


def _const_value(node: Any) -> object:
    node = _strip_casts(node)
    if not isinstance(node, ast.A_Const) or node.isnull:
        return None
    val = node.val
    if isinstance(val, ast.Integer):
        return val.ival
    if isinstance(val, ast.Float):
        return float(val.fval)
    if isinstance(val, ast.String):
        return val.sval
    return None


def _check_excludes(check: str, column: str, value: object) -> bool:
    """Does the CHECK expression rule out ``column = value``? (``col <> k``, ``col > k``...,
    ``length(col) > 0`` for ``''``, as top-level conjuncts)."""
    try:
        stmt: Any = parse_sql(f"SELECT {check}")[0].stmt
        expr = stmt.targetList[0].val
    except (ParseError, AttributeError, IndexError):
        return False
    for c in _conjuncts(expr):
        if not isinstance(c, ast.A_Expr) or c.kind != A_Expr_Kind.AEXPR_OP:
            continue
        op = c.name[-1].sval
        left, right = _strip_casts(c.lexpr), c.rexpr
        bound = _const_value(right)
        if isinstance(left, ast.FuncCall) and value == "":
            fname = left.funcname[-1].sval.lower()
            inner = _strip_casts(left.args[0]) if left.args else None
            if (
                fname in ("length", "char_length", "character_length", "octet_length")
                and isinstance(inner, ast.ColumnRef)
                and _colref(inner) is not None
                and _colref(inner)[1] == column  # type: ignore[index]
                and ((op == ">" and bound == 0) or (op == ">=" and bound == 1))
            ):
                return True
            continue
        if not isinstance(left, ast.ColumnRef) or (_colref(left) or ("", ""))[1] != column:
            continue
        if op in ("<>", "!=") and bound == value:
            return True
        if isinstance(bound, int | float) and isinstance(value, int | float):
            if (op == ">" and value <= bound) or (op == ">=" and value < bound):
                return True
            if (op == "<" and value >= bound) or (op == "<=" and value > bound):
                return True
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
