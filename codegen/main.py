"""The compiler's entry point: configuration in, generated files out (or a staleness check)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Container
from pathlib import Path
from typing import Any

import psycopg

from codegen.authz import check_references, parse_policy, render_wrapper
from codegen.catalog import apply_schema, load_catalog, schema_files
from codegen.compiler import Compiler, EmbedIR, Package, QueryIR
from codegen.config import Config, add_options, config_from_args
from codegen.errors import CodegenError, CodegenErrors, ErrorSink
from codegen.instrument import render_instrumented
from codegen.names import py_ident
from codegen.parse import parse_query_file, read_query_files
from codegen.pgserver import PgServer, PgServerError, throwaway_server
from codegen.render import GENERATED_MARK, Renderer, write_docs
from codegen.render import returns as _returns
from codegen.schemadump import dump_schema
from codegen.secrets import check_secrets, render_secrets

_RESERVED_MODULES = ("models", "querier", "protocol", "registry", "secrets")


def generate(config: Config, server: PgServer | None = None) -> dict[Path, str]:
    """Compile the project: every output path with its content.

    Uses ``server`` when given, else a throwaway server started for the run.
    """
    if server is None:
        with throwaway_server() as own:
            return generate(config, own)
    dbname = server.create_database()
    try:
        return _generate(config, server, dbname)
    finally:
        server.drop_database(dbname)


def compile_package(config: Config, conn: psycopg.Connection[Any]) -> Package:
    """Apply the schema on ``conn``'s (empty) database and compile every query file.

    Every error of every file is collected and raised together (``CodegenErrors``).
    """
    apply_schema(conn, schema_files(config.schema))
    catalog = load_catalog(conn)
    sink = ErrorSink()
    compiler = Compiler(config, catalog, conn, sink)
    modules: dict[str, list[QueryIR]] = {}
    sources: dict[str, str] = {}
    seen: dict[str, QueryIR] = {}
    for path, text in read_query_files(config.queries):
        module = module_name(path.stem, modules)
        sources[module] = str(config.rel(path))
        compiled = []
        for raw in parse_query_file(config.rel(path), text, sink):
            if raw.name in seen:
                first = seen[raw.name].location
                sink.add(
                    CodegenError(
                        f"duplicate query name (first defined at {first})", raw.location, raw.name
                    )
                )
                continue
            try:
                query = compiler.compile(raw, module)
            except CodegenError as exc:
                sink.add(exc.within(raw.name, raw.location))
                continue
            seen[raw.name] = query
            compiled.append(query)
        modules[module] = compiled
    by_method: dict[str, QueryIR] = {}
    for q in seen.values():
        other = by_method.setdefault(q.method, q)
        if other is not q:
            sink.add(
                CodegenError(
                    f"maps to the same method name {q.method!r} as query {other.name} "
                    f"({other.location})",
                    q.location,
                    q.name,
                )
            )
    sink.raise_if_any()
    check_secrets(config.secrets, catalog)
    package = Package(compiler.enums(), compiler.models, modules, sources)
    package.catalog = catalog
    return package


def module_name(stem: str, taken: Container[str]) -> str:
    """The Python module for a query file: an identifier that clashes with nothing generated.

    ``2024_users.sql`` -> ``q_2024_users``; ``models.sql`` -> ``models_queries``; a second
    file mapping to a taken name gets ``_2``, ``_3``...
    """
    base = py_ident(stem, "queries", prefix="q_", local=False)
    if base in _RESERVED_MODULES:
        base += "_queries"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _generate(config: Config, server: PgServer, dbname: str) -> dict[Path, str]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        package = compile_package(config, conn)
    files = Renderer(package, config.errors_module, package.sources).render()
    outputs = {config.out / name: content for name, content in files.items()}
    if config.secrets:
        assert package.catalog is not None
        outputs[config.out / "secrets.py"] = render_secrets(config.secrets, package.catalog)
    if config.authz:
        policies = {}
        sink = ErrorSink()
        for q in package.queries:
            try:
                policies[q.name] = parse_policy(q.authz or "", q)
                if config.authz_settings is not None:
                    check_references(q, policies[q.name], config.authz_settings)
            except CodegenError as exc:
                sink.add(exc.within(q.name, q.location))
        sink.raise_if_any()
        if config.authz_out is not None and config.authz_settings is not None:
            if not config.package:
                raise CodegenError(
                    "the authz wrapper needs [tool.codegen] package = '<import path of out>'"
                )
            outputs[config.authz_out] = render_wrapper(
                package.queries,
                policies,
                config.package,
                config.authz_settings,
                config.secrets,
                package.catalog,
            )
    if config.instrument is not None and config.package:
        outputs[config.root / config.instrument.out] = render_instrumented(
            package.queries, config.package, config.instrument
        )
    if config.docs is not None:
        outputs[config.docs] = write_docs(package, package.sources)
    if config.schema_dump is not None:
        outputs[config.schema_dump] = dump_schema(server.dsn(dbname))
    return outputs


def stale_generated(config: Config, outputs: dict[Path, str]) -> list[Path]:
    """Generated files in the output directory that would no longer be written."""
    if not config.out.is_dir():
        return []
    out = []
    for path in sorted(config.out.glob("*.py")):
        if path not in outputs and path.read_text().startswith(GENERATED_MARK):
            out.append(path)
    return out


def check(config: Config, outputs: dict[Path, str]) -> list[str]:
    """Differences between the committed files and what would be written."""
    problems = []
    for path, content in sorted(outputs.items()):
        if not path.exists():
            problems.append(f"{config.rel(path)}: missing")
        elif path.read_text() != content:
            problems.append(f"{config.rel(path)}: stale")
    problems += [f"{config.rel(p)}: no longer generated" for p in stale_generated(config, outputs)]
    return problems


def write(config: Config, outputs: dict[Path, str]) -> list[Path]:
    changed = []
    for path, content in sorted(outputs.items()):
        if path.exists() and path.read_text() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        changed.append(path)
    for path in stale_generated(config, outputs):
        path.unlink()
        changed.append(path)
    return changed


def explain(config: Config, name: str, server: PgServer | None = None) -> str:
    """Each column and parameter of query ``name`` (or method name) with its Python type and
    the rule that decided whether it may be NULL."""
    if server is None:
        with throwaway_server() as own:
            return explain(config, name, own)
    dbname = server.create_database()
    try:
        with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
            package = compile_package(config, conn)
    finally:
        server.drop_database(dbname)
    found = [q for q in package.queries if name in (q.name, q.method)]
    if not found:
        close = sorted(q.name for q in package.queries if name.lower() in q.name.lower())
        hint = f" (did you mean {', '.join(close[:5])}?)" if close else ""
        raise CodegenError(f"no query named {name!r}{hint}")
    return explain_query(found[0])


def explain_query(q: QueryIR) -> str:
    lines = [f"{q.name} {q.kind}  {q.location}  -> {q.method}(...) -> {_returns(q)}"]
    if q.params:
        lines.append("parameters:")
        width = max(len(f"${p.number} {p.name}: {p.annotation}") for p in q.params)
        for p in q.params:
            head = f"${p.number} {p.name}: {p.annotation}"
            lines.append(f"  {head.ljust(width)}  [{p.pg_type}] {p.reason}")
    if q.row is not None:
        lines.append(f"columns ({q.row.class_name}):")
        cols = q.row.columns or q.row.fields
        width = max(len(f"{c.name}: {c.annotation}") for c in cols)
        for c in cols:
            head = f"{c.name}: {c.annotation}".ljust(width)
            if isinstance(c, EmbedIR):
                why = (
                    f"embedded {c.model.table}: on the nullable side of an outer join"
                    if c.nullable
                    else f"embedded {c.model.table}: always present"
                )
                lines.append(f"  {head}  {why}")
            else:
                state = "nullable" if c.nullable else "non-null"
                lines.append(f"  {head}  [{c.pg_type}] {state}: {c.reason or 'no rule recorded'}")
    return "\n".join(lines) + "\n"


def _explain_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen explain",
        description="Show a query's columns and parameters, their types and why each may or "
        "may not be NULL.",
    )
    parser.add_argument("name", help="query name (GetAuthor) or method name (get_author)")
    add_options(parser)
    args = parser.parse_args(argv)
    try:
        print(explain(config_from_args(args), args.name), end="")
    except CodegenErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"codegen: {exc.summary()}", file=sys.stderr)
        return 1
    except (CodegenError, PgServerError) as exc:
        print(f"codegen: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["explain"]:
        return _explain_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Compile sqlc-style .sql query files into a typed Python package. "
        "`python -m codegen explain NAME` shows why each column of a query is (not) nullable.",
    )
    add_options(parser)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed output is stale"
    )
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        outputs = generate(config)
    except CodegenErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print(f"codegen: {exc.summary()}", file=sys.stderr)
        return 1
    except (CodegenError, PgServerError) as exc:
        print(f"codegen: error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        problems = check(config, outputs)
        for p in problems:
            print(f"codegen: {p} (run `make gen`)", file=sys.stderr)
        return 1 if problems else 0
    for path in write(config, outputs):
        print(f"codegen: wrote {config.rel(path)}")
    return 0
