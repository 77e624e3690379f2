"""The statement and round-trip counter (chatdb.testing.statements), on hand-written libpq
traces and on a real connection.

A round trip is a wait: the client sent something and then read the server's answer. The
hand-written traces are in libpq's REGRESS_MODE format (``F``/``B``, length, message, fields,
tab-separated), as ``count_statements`` records them.
"""

from __future__ import annotations

from typing import Any

import psycopg

from chatdb.testing.statements import count_statements, parse_trace


def trace(*lines: str) -> str:
    return "\n".join("\t".join(line.split("|")) for line in lines) + "\n"


SIMPLE = trace(
    'F|10|Query| "BEGIN"',
    'B|10|CommandComplete| "BEGIN"',
    "B|5|ReadyForQuery| T",
    'F|13|Query| "SELECT 1"',
    'B|33|RowDescription| 1 "?column?" NNNN 0 NNNN 4 -1 0',
    "B|11|DataRow| 1 1 '1'",
    'B|13|CommandComplete| "SELECT 1"',
    "B|5|ReadyForQuery| T",
    'F|11|Query| "COMMIT"',
    'B|11|CommandComplete| "COMMIT"',
    "B|5|ReadyForQuery| I",
)


def extended(name: str, text: str) -> list[str]:
    return [
        f'F|16|Parse| "{name}" "{text}" 0',
        f'F|14|Bind| "" "{name}" 0 0 1 0',
        'F|6|Describe| P ""',
        'F|9|Execute| "" 0',
    ]


def answer(tag: str) -> list[str]:
    return ["B|4|ParseComplete", "B|4|BindComplete", "B|4|NoData", f'B|10|CommandComplete| "{tag}"']


def test_simple_protocol_one_wait_per_statement() -> None:
    count = parse_trace(SIMPLE)
    assert count.statements == ["BEGIN", "SELECT 1", "COMMIT"]
    assert count.round_trips == 3


def test_statements_queued_in_a_pipeline_and_read_together_are_one_wait() -> None:
    count = parse_trace(
        trace(
            *extended("", "BEGIN"),
            *extended("", "INSERT 1"),
            *extended("", "COMMIT"),
            "F|4|Sync",
            *answer("BEGIN"),
            *answer("INSERT 0 1"),
            *answer("COMMIT"),
            "B|5|ReadyForQuery| I",
        )
    )
    assert count.statements == ["BEGIN", "INSERT 1", "COMMIT"]
    assert count.round_trips == 1


def test_a_sync_followed_by_more_messages_before_any_answer_is_not_a_wait() -> None:
    count = parse_trace(
        trace(
            *extended("", "BEGIN"),
            "F|4|Sync",  # queued, not waited for: the client goes on sending
            *extended("", "SELECT 1"),
            "F|4|Sync",
            "F|4|Flush",
            *answer("BEGIN"),
            "B|5|ReadyForQuery| T",
            *answer("SELECT 1"),
            "B|5|ReadyForQuery| T",
        )
    )
    assert count.round_trips == 1


def test_each_flush_waited_for_is_a_round_trip() -> None:
    # psycopg in pipeline mode: a fetchone() right after execute() sends Flush and waits.
    count = parse_trace(
        trace(
            *extended("", "BEGIN"),
            *extended("", "SELECT 1"),
            "F|4|Flush",
            *answer("BEGIN"),
            *answer("SELECT 1"),
            *extended("", "SELECT 2"),
            "F|4|Flush",
            *answer("SELECT 1"),
            *extended("", "COMMIT"),
            "F|4|Sync",
            "F|4|Flush",
            *answer("COMMIT"),
            "B|5|ReadyForQuery| I",
        )
    )
    assert count.statements == ["BEGIN", "SELECT 1", "SELECT 2", "COMMIT"]
    assert count.round_trips == 3


def test_answers_read_in_several_pieces_are_one_wait() -> None:
    lines = SIMPLE.splitlines()
    # The server's answer to SELECT 1 split over reads: still nothing sent in between.
    assert parse_trace("\n".join(lines[3:8]) + "\n").round_trips == 1


def test_prepared_statements_and_multi_line_texts() -> None:
    count = parse_trace(
        trace(
            'F|40|Parse| "_pg3_0" "SELECT *',
            "FROM chats",
            'WHERE id = $1" 1 NNNN',
            'F|14|Bind| "" "_pg3_0" 0 0 1 0',
            'F|9|Execute| "" 0',
            'F|14|Bind| "" "_pg3_7" 0 0 1 0',  # prepared before the trace began
            'F|9|Execute| "" 0',
            "F|4|Sync",
            "B|4|ParseComplete",
            "B|5|ReadyForQuery| I",
        )
    )
    assert count.statements == ["SELECT * FROM chats WHERE id = $1", "@_pg3_7"]
    assert count.round_trips == 1


def test_nothing_sent_is_nothing_counted() -> None:
    count = parse_trace("")
    assert (count.statements, count.round_trips) == ([], 0)
    # A notice the server sent on its own (no request pending in the trace) is no wait.
    assert parse_trace(trace('B|30|NoticeResponse| S "NOTICE"')).round_trips == 0


def test_on_a_real_connection_queued_statements_are_one_wait(
    chatdb_conn: psycopg.Connection[Any],
) -> None:
    conn = chatdb_conn
    with count_statements(conn) as queued, conn.pipeline():
        cursors = [conn.execute("SELECT %s::int", (i,)) for i in range(5)]
    with count_statements(conn) as read_each, conn.pipeline():
        for i in range(5):
            conn.execute("SELECT %s::int", (i,)).fetchone()
    assert [c.fetchone() for c in cursors] == [(i,) for i in range(5)]
    assert (len(queued), len(read_each)) == (5, 5)
    # All five go with the pipeline's closing Sync; read one by one, each waits (Flush), and
    # the closing Sync waits once more.
    assert (queued.round_trips, read_each.round_trips) == (1, 6)
