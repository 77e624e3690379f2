"""``chatdb demo``: the narrated agent session runs end to end and cleans up after itself.

The demo runs in-process on the session's server (``CHATDB_PG_DSN``), so it creates and drops
one scratch database instead of starting a PostgreSQL of its own.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator

import psycopg
import pytest

import chatdb.testing.pgserver
from chatdb import demo
from chatdb.cli import main
from codegen.pgserver import PgServer


def databases(server: PgServer) -> set[str]:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture(scope="module")
def transcript(chatdb_pg_server: PgServer) -> Iterator[str]:
    """The output of one ``chatdb demo`` run (and the databases before and after it)."""
    before = databases(chatdb_pg_server)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("CHATDB_PG_DSN", chatdb_pg_server.dsn())
        status = main(["demo"])
    assert status == 0, out.getvalue()
    assert databases(chatdb_pg_server) == before  # its scratch database is gone
    yield out.getvalue()


def flat(text: str) -> str:
    """The transcript with explanations unwrapped (they wrap at the table width)."""
    return " ".join(text.split())


def test_the_demo_narrates_every_step_in_numbered_sections(transcript: str) -> None:
    headings = re.findall(r"^\d+\. (.+)$", transcript, re.MULTILINE)
    assert headings == [
        "An organization and its people",
        "Providers and models (deployment configuration, as ada)",
        "Alice starts a chat",
        "The agent works: a sub-agent, a queued message, a client-side tool",
        "Alice's sidebar: read state and pins",
        "Authorization: bob may not read alice's chat",
        "Archiving a family",
        "What it cost (as alice)",
        "Live events: what alice's subscription received",
    ]
    assert "Applying " in transcript and "migrations to a fresh database ... done in" in transcript
    assert "Traceback" not in transcript


def test_the_demo_shows_the_refusal_when_bob_reads_alices_chat(transcript: str) -> None:
    lines = transcript.splitlines()
    at = lines.index("bob: get_chat_by_id(alice's chat) -> refused: NotAuthorized")
    assert re.fullmatch(r"  bob \([0-9a-f-]{36}\) may not read chat:[0-9a-f-]{36}", lines[at + 1])
    assert "bob: get_chats -> 0 chats (the SQL filter hides the others' rows)." in lines


def test_the_demo_promotes_the_queued_message_with_its_own_model(transcript: str) -> None:
    text = flat(transcript)
    assert "queued (#1) with the model she picked, GPT-4.1 mini." in text
    assert "Promoted queued #1 with its own model: Claude Sonnet 4 -> GPT-4.1 mini." in text


def test_the_demo_answers_the_client_tool_call_and_archives_the_family(transcript: str) -> None:
    text = flat(transcript)
    assert "Alice's client answered with submit_tool_results: the chat is pending." in text
    assert "Archiving the root archived its family (2 chats)" in text
    assert "Unarchiving the sub-agent alone -> refused: Conflict" in text


def test_the_demo_shows_a_live_subscriber_receiving_the_sessions_events(transcript: str) -> None:
    section = transcript.split("Live events: what alice's subscription received")[1]
    kinds = re.findall(r"^ +\d+  ([a-z_.]+) ", section, re.M)
    # Every kind of change the session made, in commit order, ending with the rename.
    assert kinds[:3] == ["chat.created", "messages.appended", "chat.status"]
    assert kinds[-3:] == ["chat.archived", "chat.archived", "chat.updated"]
    assert {"queue.changed", "chat.pins", "chat.read"} <= set(kinds)
    assert "it returned the sub-agent completed." in flat(transcript)
    assert "it holds 0 events" in flat(section)


def test_the_cost_summary_adds_up_per_model_and_matches_python(transcript: str) -> None:
    section = transcript.split("What it cost (as alice)")[1]
    rows = {
        m[0]: (int(m[1]), m[2])
        for m in re.findall(
            r"^  (Claude Sonnet 4|GPT-4\.1 mini) +(\d+) .* (\$[0-9.]+)$", section, re.M
        )
    }
    # Sonnet ($3 in, $15 out, $0.30 cache read, $3.75 cache write per million tokens):
    # 23,280 + 29,715 (29,714.4 rounded up) + 39,486 micros; GPT-4.1 mini: 4,048.
    assert rows == {"Claude Sonnet 4": (3, "$0.092481"), "GPT-4.1 mini": (1, "$0.004048")}
    text = flat(section)
    assert "Total: $0.096529 over 4 priced assistant messages (0 unpriced)" in text
    assert "The database's total equals the sum of the per-message costs" in text
    assert "Spend limit (default): spent $0.096529 of $20.00 this month; allowed." in text


def test_a_failing_demo_still_stops_its_server_and_drops_its_database(
    chatdb_pg_server: PgServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Simulates Ctrl-C in the middle of the session on a server the demo "started"."""
    stopped: list[bool] = []

    class OwnServer(PgServer):
        def stop(self) -> None:
            stopped.append(True)

    monkeypatch.delenv("CHATDB_PG_DSN", raising=False)
    monkeypatch.setattr(
        chatdb.testing.pgserver, "start_server", lambda: OwnServer(chatdb_pg_server.dsn())
    )

    def interrupted(self: demo.Session) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo.Session, "run", interrupted)
    before = databases(chatdb_pg_server)

    assert main(["demo"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "chatdb: error: interrupted\n"
    assert "Starting PostgreSQL ... done" in captured.out
    assert stopped == [True]
    assert databases(chatdb_pg_server) == before


def test_tables_right_align_numeric_columns() -> None:
    lines = demo.format_table(
        ["model", "messages", "cost"], [("big", 1200, "$1.50"), ("small model", 3, "$0.25")]
    )
    assert lines == [
        "  model        messages   cost",
        "  -----------  --------  -----",
        "  big             1,200  $1.50",
        "  small model         3  $0.25",
    ]
