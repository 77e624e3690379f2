"""Optional filters, found so that each combination of NULL arguments gets its own statement.

sqlc-style optional filters read ``(sqlc.narg(x)::T IS NULL OR col = sqlc.narg(x))``. Planned
for its values (a custom plan) the server folds the test away; but once a prepared statement
switches to its generic plan, which knows no values, ``col = $1`` can no longer be an index
condition, and six such ORs multiply into an estimate of "one row" that picks a sequential
scan and a sort. So the generated code runs one statement text per combination of NULL and
non-NULL arguments among those tested: each ``$k::T IS NULL`` becomes
``(TRUE OR $k::T IS NULL)`` when the argument is NULL and ``(FALSE AND $k::T IS NULL)`` when
it is not. Both fold to a constant in every plan, the parameter keeps its type anchor, and the
generic plan of each text is the custom plan's shape. Only a test that stands as a whole
operand of AND/OR/NOT/WHEN (or a parenthesis) is rewritten: ``a = $1 IS NULL`` means
``(a = $1) IS NULL`` and is left alone.
"""

from __future__ import annotations

from pglast.parser import scan

# Tokens around a test that leave it a whole boolean operand (IS binds looser than any
# operator, tighter than NOT, AND, OR).
_BEFORE = frozenset({"ASCII_40", "ASCII_44", "AND", "OR", "NOT", "WHEN", "WHERE", "HAVING", "ON"})
_AFTER = frozenset({"ASCII_41", "ASCII_44", "AND", "OR", "THEN", "ELSE", "END_P", "ORDER", "GROUP", "LIMIT", "OFFSET", "ASCII_59"})  # fmt: skip


def null_tests(sql: str, nullable: set[int]) -> list[tuple[int, int, int]]:
    """``(start, end, parameter number)`` of each rewritable ``$k[::T] IS NULL`` in ``sql``.

    Offsets are character offsets (pglast's, too), ``end`` exclusive; only parameters in
    ``nullable`` count.
    """
    tokens = scan(sql)
    found = []
    for i, tok in enumerate(tokens):
        if tok.name != "PARAM":
            continue
        number = int(sql[tok.start + 1 : tok.end + 1])
        if number not in nullable:
            continue
        if i > 0 and tokens[i - 1].name not in _BEFORE:
            continue
        j = i + 1
        if j < len(tokens) and tokens[j].name == "TYPECAST":
            j += 1
            while j < len(tokens) and tokens[j].name != "IS":  # the type's words and brackets
                if tokens[j].name in _AFTER or tokens[j].name == "PARAM":
                    break
                j += 1
        if j + 1 >= len(tokens) or tokens[j].name != "IS" or tokens[j + 1].name != "NULL_P":
            continue
        if j + 2 < len(tokens) and tokens[j + 2].name not in _AFTER:
            continue
        found.append((tok.start, tokens[j + 1].end + 1, number))
    return found
