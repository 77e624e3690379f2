"""Which statements only read: the ones a read replica may serve outside a transaction.

A statement is read-only when it is a plain query (no INSERT/UPDATE/DELETE/MERGE anywhere, not
even in a CTE), takes no row locks (no ``FOR UPDATE/SHARE``) and calls no volatile function
(``nextval``, advisory locks, ``pg_notify``, ... are volatile; so, conservatively, are
``random()`` and ``clock_timestamp()``). Volatility comes from the live catalog, so a user
function counts by what it declares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pglast import ast as pg_ast

ast: Any = pg_ast

_WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


def _nodes(node: Any) -> Any:
    """Every AST node under ``node`` (inclusive)."""
    if isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)
    elif isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _nodes(getattr(node, name))


def is_read_only(stmt: Any, volatile: Callable[[tuple[str, ...]], bool]) -> bool:
    """Whether ``stmt`` (a pglast statement) only reads; ``volatile(name)`` looks a function up."""
    if not isinstance(stmt, ast.SelectStmt):
        return False
    for node in _nodes(stmt):
        if isinstance(node, _WRITES):
            return False
        if isinstance(node, ast.SelectStmt) and node.lockingClause:
            return False
        if isinstance(node, ast.FuncCall):
            name = tuple(part.sval.lower() for part in node.funcname)
            if volatile(name):
                return False
    return True


VOLATILE_SQL = """
SELECT EXISTS (
    SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proname = %(name)s AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s)
        AND p.provolatile = 'v'
)
"""
"""Whether any function of that name (in that schema, if given) is volatile."""
