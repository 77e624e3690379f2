"""Python names for SQL names: every generated identifier is valid, and none collide.

The rules (deterministic, so regenerating never renames anything that did not change):

- methods, fields, parameters and modules are snake_case: characters that cannot appear in
  an identifier become ``_``; a name starting with a digit gets a prefix (``q_`` for modules,
  the position for columns: ``column_3``); a Python keyword, a soft keyword or a name the
  generated code uses itself (``self``, ``row``, ``str``, ``conn``...) gets a trailing ``_``;
  a second name mapping to a taken one gets ``_2``, ``_3``... in order of appearance;
- classes are CamelCase over the words of the name (``x-venues`` -> ``XVenue``, the last word
  singular for tables); a table or type outside ``public`` is prefixed with its schema
  (``auth.users`` -> ``AuthUser``, as sqlc does); a clash between tables falls back to the
  unsingularised name (``user`` and ``users`` -> ``User`` and ``Users``); a class name the
  generated code imports (``Any``, ``Decimal``...) or a keyword (``None``) gets a trailing ``_``;
- enum members are the label upper-cased with non-identifier characters as ``_``
  (``'in-between'`` -> ``IN_BETWEEN``); a label with no letter or digit is ``VALUE_<position>``
  (``'#'`` -> ``VALUE_1``), one starting with a digit is prefixed ``V_`` (``'0'`` -> ``V_0``),
  and clashes get ``_2``... (``'foo-a'``, ``'foo_a'`` -> ``FOO_A``, ``FOO_A_2``).
"""

from __future__ import annotations

import keyword
import re

# Names the generated code uses itself (locals and the types in annotations).
_SHADOWED = frozenset(
    "self row rows cur exc args params p r v copy results query "
    "str int float bool bytes list dict tuple date time datetime timedelta "
    "Any Decimal UUID JSON Sequence Iterable".split()
)
# Attributes of the generated querier classes a query method must not replace.
_QUERIER_ATTRIBUTES = frozenset({"conn"})
# Class names the generated models module defines or imports.
_TAKEN_CLASSES = frozenset(
    "Any Decimal UUID JSON ExecResult StrEnum TypeAlias IPv4Interface IPv6Interface "
    "IPv4Network IPv6Network Sequence Iterable Protocol Callable TypeVar".split()
)


def snake(name: str) -> str:
    """GetChatByID -> get_chat_by_id; UpdateChatMCPServerIDs -> update_chat_mcp_server_ids."""
    name = re.sub(r"IDs\b|IDs(?=[A-Z])", "Ids", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


def py_ident(name: str, fallback: str, prefix: str = "", local: bool = True) -> str:
    """A snake_case identifier for ``name``; ``fallback`` (or ``prefix`` + name) if it has
    no usable characters or starts with a digit. ``local``: it must not shadow a name the
    generated code uses (false for module names)."""
    ident = re.sub(r"\W+", "_", name).strip("_").lower()
    if ident and not ident.isidentifier():
        ident = re.sub(r"[^0-9a-z_]+", "_", ident).strip("_")
    if ident and ident[0].isdigit():
        ident = prefix + ident if prefix else ""
    if not ident:
        ident = fallback
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or (local and ident in _SHADOWED):
        ident += "_"
    return ident


def method_name(query: str) -> str:
    """The querier method of a query (``In`` -> ``in_``, ``Conn`` -> ``conn_``)."""
    method = py_ident(snake(query), "query")
    return method + "_" if method in _QUERIER_ATTRIBUTES else method


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("sses", "uses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def class_name(name: str, schema: str = "public", singular: bool = False) -> str:
    """CamelCase class name for a table/type ``name`` in ``schema``."""
    words = _words(name)
    if singular and words:
        words[-1] = _singular(words[-1])
    if schema not in ("public", "pg_catalog", ""):
        words = _words(schema) + words
    out = "".join(w[:1].upper() + w[1:] for w in words)
    if not out:
        out = "Table"
    if out[0].isdigit():
        out = "T" + out
    if keyword.iskeyword(out) or out in _TAKEN_CLASSES:
        out += "_"
    return out


def dedupe(names: list[str]) -> list[str]:
    """Names made unique in order: a repeat gets ``_2``, ``_3``..."""
    seen: set[str] = set()
    out = []
    for n in names:
        candidate, i = n, 1
        while candidate in seen:
            i += 1
            candidate = f"{n}_{i}"
        seen.add(candidate)
        out.append(candidate)
    return out


def enum_members(labels: list[str]) -> list[str]:
    """Member names for an enum's labels, in order (see the module's rules)."""
    names = []
    for position, label in enumerate(labels, start=1):
        name = re.sub(r"\W+", "_", label).strip("_").upper()
        if name and not name.isidentifier() and not name[0].isdigit():
            name = re.sub(r"[^0-9A-Z_]+", "_", name).strip("_")
        if not name:
            name = f"VALUE_{position}"
        elif name[0].isdigit():
            name = "V_" + name
        if keyword.iskeyword(name):
            name += "_"
        names.append(name)
    return dedupe(names)
