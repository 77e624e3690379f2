"""Compiler errors that point at the offending query: ``file:line: query Name: message``.

The compiler reports every problem of a run at once (``CodegenErrors``), sorted by file and
line, like a compiler does; nothing is written when there is any.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where a query lives: its file, the line of its name line, and where its SQL starts."""

    path: Path
    line: int
    sql_line: int = 0

    def at(self, line: int) -> Location:
        return replace(self, line=line)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class CodegenError(Exception):
    """A problem in the schema, a query or the configuration, reported with its location."""

    def __init__(
        self, message: str, location: Location | None = None, query: str | None = None
    ) -> None:
        self.message = message
        self.location = location
        self.query = query
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"query {self.query}: {self.message}" if self.query else self.message
        return f"{self.location}: {text}" if self.location else text

    def __str__(self) -> str:
        return self._text()

    def within(self, query: str, location: Location) -> CodegenError:
        """This error attributed to ``query`` (kept where it already names one)."""
        return CodegenError(self.message, self.location or location, self.query or query)

    def sort_key(self) -> tuple[str, int, str]:
        loc = self.location
        return (str(loc.path) if loc else "", loc.line if loc else 0, str(self))


class CodegenErrors(CodegenError):
    """Every error of one run, sorted by file and line (one ``file:line: message`` per line)."""

    errors: list[CodegenError]

    def __init__(self, errors: Iterable[CodegenError]) -> None:
        flat: list[CodegenError] = []
        for e in errors:
            flat.extend(e.errors if isinstance(e, CodegenErrors) else [e])
        self.errors = sorted(flat, key=CodegenError.sort_key)
        super().__init__("\n".join(str(e) for e in self.errors))

    def _text(self) -> str:
        return self.message

    def summary(self) -> str:
        files = {e.location.path for e in self.errors if e.location}
        n = len(self.errors)
        where = f" in {len(files)} file{'s' if len(files) != 1 else ''}" if files else ""
        return f"{n} error{'s' if n != 1 else ''}{where}; nothing written"


class ErrorSink:
    """Collects errors so one run can report all of them."""

    def __init__(self) -> None:
        self.errors: list[CodegenError] = []

    def add(self, error: CodegenError) -> None:
        self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise CodegenErrors(self.errors)
