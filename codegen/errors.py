"""Compiler errors that point at the offending query: ``file:line: message``."""

from __future__ import annotations

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

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)
