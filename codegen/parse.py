"""Reading sqlc-style query files: name blocks, annotations, and parameter rewriting.

The query language is sqlc's. Parameters (``@name``, ``sqlc.arg(name)``, ``sqlc.narg(name)``,
``sqlc.slice(name)``) and ``sqlc.embed(table)`` are rewritten into plain PostgreSQL over the
token stream of PostgreSQL's own lexer (pglast), so strings, comments, dollar quoting, ``::``
and operators such as ``@>`` are never mistaken for parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pglast.parser import ParseError, scan

from codegen.errors import CodegenError, ErrorSink, Location

KINDS = (
    ":one",
    ":many",
    ":exec",
    ":execrows",
    ":execresult",
    ":copyfrom",
    ":batchexec",
    ":batchmany",
    ":batchone",
    ":iter",
)

_NAME_AND_KIND = re.compile(r"^(?P<name>[^\W\d]\w*)\s+(?P<kind>:[a-z]+)\s*$")
_ANNOTATION = re.compile(r"^--\s*(?P<key>[a-z_]+):\s*(?P<value>.*?)\s*$")
AUTHZ_FILTER_MARKER = "/* authz:filter */"


@dataclass
class Param:
    """One query parameter, numbered as the server sees it ($number)."""

    number: int
    name: str
    nullable: bool = False  # sqlc.narg
    is_slice: bool = False  # sqlc.slice
    explicit: bool = True  # named by the author (False: $N whose name we infer)


@dataclass
class Embed:
    """A ``sqlc.embed(table)`` in the select list, rewritten to ``table.*`` at ``offset``."""

    alias: str
    offset: int


@dataclass
class RawQuery:
    """A query block as written, with its parameters rewritten to $N."""

    name: str
    kind: str
    location: Location
    sql: str  # rewritten, as sent to the server
    params: list[Param]
    embeds: list[Embed]
    annotations: dict[str, str] = field(default_factory=dict)
    doc: list[str] = field(default_factory=list)
    source_sql: str = ""

    @property
    def authz(self) -> str | None:
        return self.annotations.get("authz")

    def line_of_offset(self, offset: int) -> int:
        """File line number of a character offset in the rewritten SQL (approximate)."""
        return self.location.sql_line + self.sql.count("\n", 0, max(offset, 0))


def read_query_files(source: Path) -> list[tuple[Path, str]]:
    """The .sql files of a query source (a file, or a directory read in name order)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix == ".sql")
        return [(p, p.read_text()) for p in files]
    if not source.exists():
        raise CodegenError(f"{source}: no such file or directory")
    return [(source, source.read_text())]


# A query header: `-- name: Name :kind` on its own line, or `/* name: Name :kind */`.
_HEADER = re.compile(
    r"^[ \t]*(?:--[ \t]*name:(?P<line>[^\n]*)|/\*[ \t]*name:(?P<block>.*?)\*/)", re.M | re.S
)


def parse_query_file(path: Path, text: str, sink: ErrorSink | None = None) -> list[RawQuery]:
    """Split a query file into its named statements, sqlc's way, and rewrite each one.

    A query runs from its name header to the first ``;`` (or the next header). Comment lines
    directly above a header are its documentation (the doc comment many projects write above
    each name line). Statements with no name header are ignored, as sqlc ignores them.
    Errors go to ``sink`` when given (so the caller can report every one), else raise.
    """
    own = sink is None
    sink = sink or ErrorSink()
    headers = list(_HEADER.finditer(text))
    lines = text.split("\n")
    out: list[RawQuery] = []
    for i, m in enumerate(headers):
        line_no = text.count("\n", 0, m.start()) + 1
        limit = _doc_start(text, lines, headers[i + 1]) if i + 1 < len(headers) else len(text)
        region = text[m.end() : limit]
        header = m.group("line") if m.group("line") is not None else m.group("block")
        try:
            try:
                tokens = scan(region)
            except ParseError as exc:
                raise CodegenError(f"syntax error: {exc}", Location(path, line_no)) from None
            end = next((t.start for t in tokens if t.name == "ASCII_59"), len(region))
            tokens = [t for t in tokens if t.start < end]
            doc = _doc_above(lines, line_no)
            out.append(_parse_block(path, line_no, header, region, end, tokens, doc))
        except CodegenError as exc:
            sink.add(exc)
    if own:
        sink.raise_if_any()
    return out


def _doc_above(lines: list[str], line_no: int) -> list[str]:
    """The run of `--` comment lines right above the header on line ``line_no``."""
    doc: list[str] = []
    i = line_no - 2
    while i >= 0 and lines[i].strip().startswith("--") and not _HEADER.match(lines[i]):
        doc.insert(0, lines[i].strip()[2:].strip())
        i -= 1
    return doc


def _doc_start(text: str, lines: list[str], header: re.Match[str]) -> int:
    """Offset where the header's doc comment (or the header itself) starts."""
    line_no = text.count("\n", 0, header.start()) + 1
    first = line_no - len(_doc_above(lines, line_no))
    return sum(len(line) + 1 for line in lines[: first - 1])


def _parse_block(
    path: Path,
    line_no: int,
    header: str,
    region: str,
    end: int,
    tokens: list[Any],
    doc_above: list[str],
) -> RawQuery:
    """One query: ``region[:end]`` follows its header (the rest of the header's line first,
    then line ``line_no + 1``...); ``tokens`` are the lexer's tokens of that text."""
    body = region[:end].split("\n")
    loc = Location(path, line_no)
    match = _NAME_AND_KIND.match(header.strip())
    if not match:
        raise CodegenError(
            f"malformed name line {header.strip()!r}: expected '-- name: Name :kind'", loc
        )
    name, kind = match.group("name"), match.group("kind")
    if kind not in KINDS:
        raise CodegenError(
            f"unknown query kind {kind!r} (expected one of {' '.join(KINDS)})", loc, name
        )
    annotations: dict[str, str] = {}
    doc: list[str] = list(doc_above)
    sql_start = 0
    for i, line in enumerate(body):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            sql_start = i
            break
        ann = _ANNOTATION.match(stripped)
        if ann:
            key = ann.group("key")
            if key in annotations:
                raise CodegenError(f"duplicate '-- {key}:' annotation", loc.at(line_no + i), name)
            annotations[key] = ann.group("value")
        else:
            doc.append(stripped[2:].strip())
    else:
        raise CodegenError("no SQL after the name line", loc, name)
    first = body[sql_start]
    start = sum(len(line) + 1 for line in body[:sql_start]) + len(first) - len(first.lstrip())
    source_sql = region[start:end].rstrip()
    loc = Location(path, line_no, sql_line=line_no + sql_start)
    try:
        sql, params, embeds = rewrite(region, loc, tokens, start, start + len(source_sql))
    except CodegenError as exc:
        raise exc.within(name, loc) from None
    return RawQuery(
        name=name,
        kind=kind,
        location=loc,
        sql=sql,
        params=params,
        embeds=embeds,
        annotations=annotations,
        doc=doc,
        source_sql=source_sql,
    )


def _is_word(token_name: str, token_kind: str) -> bool:
    return token_name == "IDENT" or token_kind != "NO_KEYWORD"


def rewrite(
    sql: str, loc: Location, tokens: list[Any] | None = None, start: int = 0, stop: int = -1
) -> tuple[str, list[Param], list[Embed]]:
    """Rewrite sqlc parameter syntax to $N and sqlc.embed(t) to t.* over the lexer's tokens.

    Rewrites ``sql[start:stop]`` (all of it by default); ``tokens`` are its tokens when the
    caller has scanned it already (offsets into ``sql``).
    """
    if stop < 0:
        stop = len(sql)
    if tokens is None:
        try:
            tokens = scan(sql)
        except ParseError as exc:
            raise CodegenError(f"syntax error: {exc}", loc) from exc
    if any(t.name == "ASCII_59" for t in tokens):  # ';' between statements
        raise CodegenError("a query block must hold exactly one statement", loc)
    text = [sql[t.start : t.end + 1] for t in tokens]
    numbered = {int(text[i][1:]) for i, t in enumerate(tokens) if t.name == "PARAM"}
    next_number = max(numbered, default=0) + 1
    by_name: dict[str, Param] = {}
    params: dict[int, Param] = {
        n: Param(number=n, name="", explicit=False) for n in sorted(numbered)
    }
    embeds: list[Embed] = []
    out: list[str] = []
    pos = start  # next unread character of sql
    i = 0

    def named(name: str, nullable: bool, is_slice: bool, at: int) -> Param:
        nonlocal next_number
        param = by_name.get(name)
        if param is None:
            param = Param(number=next_number, name=name, nullable=nullable, is_slice=is_slice)
            next_number += 1
            by_name[name] = param
            params[param.number] = param
        else:
            if param.is_slice != is_slice:
                raise CodegenError(
                    f"parameter {name!r} is used both as sqlc.slice and as a plain value",
                    loc.at(loc.sql_line + sql.count("\n", start, at)),
                )
            param.nullable = param.nullable or nullable
        return param

    def emit(upto: int, replacement: str) -> None:
        nonlocal pos
        out.append(sql[pos:upto])
        out.append(replacement)

    while i < len(tokens):
        tok = tokens[i]
        # @name (the Op token must be exactly '@' and touch the following word)
        if (
            tok.name == "Op"
            and text[i] == "@"
            and i + 1 < len(tokens)
            and tokens[i + 1].start == tok.end + 1
            and _is_word(tokens[i + 1].name, tokens[i + 1].kind)
        ):
            param = named(text[i + 1].lower(), False, False, tok.start)
            emit(tok.start, f"${param.number}")
            pos = tokens[i + 1].end + 1
            i += 2
            continue
        # sqlc.<fn>(<arg>)
        if (
            tok.name == "IDENT"
            and text[i].lower() == "sqlc"
            and i + 5 < len(tokens)
            and text[i + 1] == "."
            and text[i + 3] == "("
            and text[i + 5] == ")"
        ):
            fn = text[i + 2].lower()
            arg_tok = tokens[i + 4]
            arg = text[i + 4]
            if arg_tok.name == "SCONST":
                arg = arg[1:-1]
            elif _is_word(arg_tok.name, arg_tok.kind):
                arg = arg.lower()
            else:
                raise CodegenError(f"sqlc.{fn}() takes a name, got {arg!r}", loc)
            end = tokens[i + 5].end + 1
            next_i = i + 6
            if fn in ("arg", "narg"):
                param = named(arg, fn == "narg", False, tok.start)
                emit(tok.start, f"${param.number}")
            elif fn == "slice":
                param = named(arg, False, True, tok.start)
                # x IN (sqlc.slice(ids)) -> x = ANY($n): PostgreSQL takes the list as one array.
                if (
                    i >= 2
                    and text[i - 1] == "("
                    and text[i - 2].upper() == "IN"
                    and (i + 6 < len(tokens) and text[i + 6] == ")")
                ):
                    in_start = tokens[i - 2].start
                    out.append(sql[pos:in_start])
                    out.append(f"= ANY(${param.number})")
                    end = tokens[i + 6].end + 1
                    next_i = i + 7
                else:
                    emit(tok.start, f"${param.number}")
            elif fn == "embed":
                offset = sum(len(s) for s in out) + (tok.start - pos)
                emit(tok.start, f"{arg}.*")
                embeds.append(Embed(alias=arg, offset=offset))
            else:
                raise CodegenError(f"unknown macro sqlc.{fn}()", loc)
            pos = end
            i = next_i
            continue
        i += 1
    out.append(sql[pos:stop])
    rewritten = "".join(out)
    ordered = [params[n] for n in sorted(params)]
    for expected, p in enumerate(ordered, start=1):
        if p.number != expected:
            raise CodegenError(f"parameter ${expected} is never used (numbering has a gap)", loc)
    return rewritten, ordered, embeds
