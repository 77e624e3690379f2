"""Counting what a connection sends, from libpq's own protocol trace.

``count_statements(conn)`` records every statement the client sends while the block runs —
one per simple ``Query`` message (BEGIN, COMMIT, SAVEPOINT outside a pipeline) and one per
extended ``Execute`` — and the round trips: the times the client stopped sending and waited
for the server. In the trace a wait is a frontend message followed by a backend one: the
client sent something, then read. What ends a batch (a ``Sync``, or the ``Flush`` psycopg
sends in pipeline mode when a result is needed at once) is not itself a wait: a ``Sync``
followed by more frontend messages before any answer was read cost nothing, and statements
queued in a pipeline and read together are one wait however many there are. Outside pipeline
mode every statement is one. Nothing is intercepted in Python, so a statement a cursor, a
pipeline or a nested helper sends is counted the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import Trace

# A traced frontend message: "F <length> <type> <fields>" (REGRESS_MODE, no timestamps).
_FRONTEND = re.compile(r"^F\t\d+\t(\w+)\t?(.*)$")
_BACKEND = re.compile(r"^B\t\d+\t")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass
class StatementCount:
    """What the block sent: each statement's text (abridged) and the round trips."""

    statements: list[str] = field(default_factory=list)
    round_trips: int = 0

    def __len__(self) -> int:
        return len(self.statements)


def _messages(trace: str) -> list[str]:
    """One line per traced message: a statement's text may span lines (REGRESS_MODE prints it
    as is), so a line that starts no message continues the previous one."""
    messages: list[str] = []
    for line in trace.splitlines():
        if line.startswith(("F\t", "B\t")) or not messages:
            messages.append(line)
        else:
            messages[-1] += " " + line
    return messages


def parse_trace(trace: str) -> StatementCount:
    """Statements and round trips of a libpq trace."""
    count = StatementCount()
    prepared: dict[str, str] = {}  # statement name -> text, from Parse messages
    bound = ""  # the text the next Execute runs
    sending = False  # the last message was the client's: a server message now ends a wait
    for line in _messages(trace):
        m = _FRONTEND.match(line)
        if m is None:
            if sending and _BACKEND.match(line):
                count.round_trips += 1
                sending = False
            continue
        sending = True
        message, fields = m.group(1), _QUOTED.findall(m.group(2))
        if message == "Query":  # simple protocol: one statement
            count.statements.append(fields[0][:80] if fields else "")
        elif message == "Parse" and len(fields) >= 2:
            prepared[fields[0]] = fields[1][:80]
        elif message == "Bind" and len(fields) >= 2:
            # A statement prepared before the trace began is resolved by name afterwards.
            bound = prepared.get(fields[1], f"@{fields[1]}" if fields[1] else "")
        elif message == "Execute":
            count.statements.append(bound)
    return count


@contextlib.contextmanager
def count_statements(conn: psycopg.Connection[Any]) -> Iterator[StatementCount]:
    """Count the statements ``conn`` sends inside the block (filled in when it exits)."""
    result = StatementCount()
    with tempfile.TemporaryFile("w+") as out:
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield result
        finally:
            conn.pgconn.untrace()
            out.flush()
            os.lseek(out.fileno(), 0, os.SEEK_SET)
            parsed = parse_trace(out.read())
            names = {
                f"@{name}": " ".join(text.split())[:80]
                for name, text in conn.execute(
                    "SELECT name, statement FROM pg_prepared_statements"
                ).fetchall()
            }
            result.statements[:] = [names.get(s, s) for s in parsed.statements]
            result.round_trips = parsed.round_trips
