"""The instrumented queriers: every query method timed, counted and traced.

Rendered from the same compiled queries as the plain queriers, into one module
(``[tool.codegen.instrument] out``). Each method runs the plain querier's method between its
query's probe's ``start()`` and ``done()`` / ``fail()`` (``Instruments.probes`` of the
configured runtime module, bound once per querier), so a new query is covered by ``make gen``
without hand work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codegen.compiler import QueryIR


@dataclass(frozen=True)
class InstrumentSettings:
    """``[tool.codegen.instrument]``: where to write the module, and its runtime."""

    out: str
    runtime: str  # module providing ``Instruments``


def _call_args(q: QueryIR) -> str:
    if q.uses_params_class:
        return ", params"
    return "".join(f", {p.name}={p.name}" for p in q.params)


def _measured(call: str, q: QueryIR, index: int, is_async: bool) -> list[str]:
    """The body around ``call`` (the plain querier's method): the probe inline, no context
    manager or closure per call. Its exception is recorded and re-raised unchanged."""
    from codegen.render import returns

    head = [
        f"        probe = self._probes[{index}]  # {q.name}",
        "        token = probe.start()",
        "        try:",
    ]
    failed = [
        "        except BaseException as exc:",
        "            probe.fail(token, exc)",
        "            raise",
    ]
    aw = "await " if is_async else ""
    if q.kind == ":iter":
        # Measured until the caller has read the last row (the span covers the cursor's
        # life, as for a streaming read); a caller that stops early (close() / aclose(), or
        # breaking out of the loop) ends the measure without an error.
        if is_async:
            body = [f"            async for row in {call}:", "                yield row"]
        else:
            body = [f"            yield from {call}"]
        stopped = [
            "        except GeneratorExit:",
            "            probe.done(token)",
            "            raise",
        ]
        return [*head, *body, *stopped, *failed, "        probe.done(token)"]
    if returns(q) == "None":
        return [*head, f"            {aw}{call}", *failed, "        probe.done(token)"]
    return [
        *head,
        f"            result = {aw}{call}",
        *failed,
        "        probe.done(token)",
        "        return result",
    ]


def instrumented_methods(q: QueryIR, index: int, is_async: bool) -> str:
    """The instrumented override of ``q``'s method (and of its row-filtered twin)."""
    from codegen.render import returns, signature

    base = "AsyncQuerier" if is_async else "Querier"
    call = f"{base}.{q.method}(self{_call_args(q)})"
    lines = [f"    {signature(q, is_async)}:", *_measured(call, q, index, is_async)]
    if q.has_authz_filter:
        prefix = "async def" if is_async else "def"
        args = "".join(f", {p.name}: {p.annotation}" for p in q.params)
        names = "".join(f", {p.name}={p.name}" for p in q.params)
        call = f"{base}._{q.method}_filtered(self, authz_sql, authz_params{names})"
        lines += [
            "",
            f"    {prefix} _{q.method}_filtered(self, authz_sql: str, authz_params: tuple[Any, ...], *{args}) -> {returns(q, is_async)}:",
            *_measured(call, q, index, is_async),
        ]
    return "\n".join(lines)


def render_instrumented(queries: list[QueryIR], package: str, settings: InstrumentSettings) -> str:
    """The instrumented queriers module's source."""
    from codegen.render import HEADER, _import_lines, _imports_of_types, make_env, returns_rows

    found: set[tuple[str, str]] = {
        ("typing", "Any"),
        ("psycopg", "AsyncConnection"),
        ("psycopg", "Connection"),
        (settings.runtime, "Instruments"),
        (package, "AsyncQuerier"),
        (package, "Querier"),
    }
    for q in queries:
        found.add((f"{package}.{q.module}", q.const))
        for module, name in _imports_of_types(p.pytype for p in q.params):
            found.add((package if module == ".models" else module, name))
        if any(p.pytype.array is not None for p in q.params) and not q.uses_params_class:
            found.add(("collections.abc", "Sequence"))
        if q.uses_params_class:
            found |= {("collections.abc", "Iterable"), (package, q.params_class)}
        if q.row is not None and returns_rows(q):
            found.add((package, q.row.class_name))
        if q.kind == ":execresult":
            found.add((package, "ExecResult"))
        if q.kind == ":iter":
            found |= {("collections.abc", "AsyncIterator"), ("collections.abc", "Iterator")}
    env = make_env()
    env.filters["instrumented"] = instrumented_methods
    text = env.get_template("instrumented.py.j2").render(
        header=HEADER.format(source="the query files"),
        imports=_import_lines(found, first_party=package),
        queries=queries,
    )
    return text.rstrip("\n") + "\n"
