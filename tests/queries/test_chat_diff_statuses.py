"""SQL-level behaviour of the pull-request status queries (SPEC 4.5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from chatdb.db import ChatDiffStatus, Querier
from chatdb.errors import CheckViolation, NotFound
from chatdb.testing.factories import Factories

Conn = psycopg.Connection[Any]
LEASE = timedelta(minutes=5)


def server_now(conn: Conn) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def stored(conn: Conn, chat_id: UUID) -> ChatDiffStatus:
    return Querier(conn).get_chat_diff_status_by_chat_id(chat_id=chat_id)


def snapshot(chat_id: UUID, stale_at: datetime, **overrides: Any) -> dict[str, Any]:
    """Arguments of UpsertChatDiffStatus for an open PR, with overrides."""
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "url": "https://github.com/acme/app/pull/7",
        "pull_request_state": "open",
        "changes_requested": True,
        "additions": 10,
        "deletions": 3,
        "changed_files": 2,
        "pull_request_title": "Add things",
        "pull_request_draft": True,
        "author_login": "alice",
        "author_avatar_url": "https://avatars.example.com/alice",
        "base_branch": "main",
        "head_branch": "feature",
        "pr_number": 7,
        "commits": 4,
        "approved": False,
        "reviewer_count": 2,
        "refreshed_at": stale_at - timedelta(minutes=2),
        "stale_at": stale_at,
    }
    values.update(overrides)
    return values


# ---- reads -------------------------------------------------------------------------------


def test_get_by_chat_id_returns_the_row_or_not_found(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    status = f.chat_diff_status(url="https://x/pull/1")
    assert stored(chatdb_conn, status.chat_id) == status
    with pytest.raises(NotFound):
        stored(chatdb_conn, f.chat().id)


def test_get_by_chat_ids_returns_only_the_requested_chats(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    a, b, c = f.chat_diff_status(), f.chat_diff_status(), f.chat_diff_status()
    got = Querier(chatdb_conn).get_chat_diff_statuses_by_chat_ids(
        chat_ids=[a.chat_id, c.chat_id, f.chat().id]
    )
    assert sorted(s.chat_id for s in got) == sorted([a.chat_id, c.chat_id])
    assert b.chat_id not in {s.chat_id for s in got}


# ---- reference upsert --------------------------------------------------------------------


def test_reference_upsert_creates_the_row(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    stale_at = server_now(chatdb_conn)
    row = Querier(chatdb_conn).upsert_chat_diff_status_reference(
        chat_id=chat.id,
        url=None,
        git_branch="feature",
        git_remote_origin="git@github.com:acme/app.git",
        stale_at=stale_at,
    )
    assert (row.chat_id, row.url, row.git_branch) == (chat.id, None, "feature")
    assert (row.git_remote_origin, row.stale_at) == ("git@github.com:acme/app.git", stale_at)
    assert stored(chatdb_conn, chat.id) == row


def test_reference_upsert_keeps_known_values_for_null_url_and_empty_branch(
    chatdb_conn: Conn,
) -> None:
    f = Factories(chatdb_conn)
    old = f.chat_diff_status(
        url="https://github.com/acme/app/pull/7",
        git_branch="feature",
        git_remote_origin="origin-url",
        pull_request_title="kept",
    )
    stale_at = server_now(chatdb_conn) + timedelta(minutes=1)
    row = Querier(chatdb_conn).upsert_chat_diff_status_reference(
        chat_id=old.chat_id, url=None, git_branch="", git_remote_origin="", stale_at=stale_at
    )
    assert (row.url, row.git_branch, row.git_remote_origin) == (old.url, "feature", "origin-url")
    assert row.stale_at == stale_at
    assert row.pull_request_title == "kept"
    assert row.updated_at > old.updated_at  # bumped
    assert row.created_at == old.created_at


def test_reference_upsert_overwrites_with_given_values(chatdb_conn: Conn) -> None:
    old = Factories(chatdb_conn).chat_diff_status(
        url="https://old/pull/1", git_branch="old", git_remote_origin="old-origin"
    )
    row = Querier(chatdb_conn).upsert_chat_diff_status_reference(
        chat_id=old.chat_id,
        url="https://new/pull/2",
        git_branch="new",
        git_remote_origin="new-origin",
        stale_at=old.stale_at,
    )
    assert (row.url, row.git_branch, row.git_remote_origin) == (
        "https://new/pull/2",
        "new",
        "new-origin",
    )


# ---- full snapshot upsert ----------------------------------------------------------------


def test_snapshot_upsert_inserts_every_field(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    args = snapshot(chat.id, server_now(chatdb_conn))
    row = Querier(chatdb_conn).upsert_chat_diff_status(**args)
    for name, value in args.items():
        assert getattr(row, name) == value, name
    assert (row.git_branch, row.git_remote_origin) == ("", "")


def test_snapshot_upsert_replaces_the_whole_snapshot_and_bumps_updated_at(
    chatdb_conn: Conn,
) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    q = Querier(chatdb_conn)
    first = q.upsert_chat_diff_status(**snapshot(chat.id, server_now(chatdb_conn)))
    q.upsert_chat_diff_status_reference(
        chat_id=chat.id, url=None, git_branch="b", git_remote_origin="o", stale_at=first.stale_at
    )
    merged = snapshot(
        chat.id,
        server_now(chatdb_conn),
        pull_request_state="merged",
        changes_requested=False,
        approved=None,
        author_login=None,
        reviewer_count=None,
        pull_request_draft=False,
    )
    row = q.upsert_chat_diff_status(**merged)
    for name, value in merged.items():
        assert getattr(row, name) == value, name
    assert (row.git_branch, row.git_remote_origin) == ("b", "o")  # not part of the snapshot
    assert row.created_at == first.created_at
    assert row.updated_at > first.updated_at


def test_snapshot_upsert_refuses_an_unknown_state(chatdb_conn: Conn) -> None:
    chat = Factories(chatdb_conn).chat()
    with pytest.raises(CheckViolation) as err:
        Querier(chatdb_conn).upsert_chat_diff_status(
            **snapshot(chat.id, server_now(chatdb_conn), pull_request_state="exploded")
        )
    assert err.value.constraint == "chat_diff_statuses_pull_request_state_check"


# ---- scheduling --------------------------------------------------------------------------


def test_mark_stale_changes_stale_at_only(chatdb_conn: Conn) -> None:
    old = Factories(chatdb_conn).chat_diff_status(git_branch="b", git_remote_origin="o")
    stale_at = server_now(chatdb_conn) - timedelta(seconds=1)
    Querier(chatdb_conn).mark_chat_diff_status_stale(chat_id=old.chat_id, stale_at=stale_at)
    row = stored(chatdb_conn, old.chat_id)
    assert row.stale_at == stale_at
    assert row.updated_at == old.updated_at
    assert row == ChatDiffStatus(**{**_fields(old), "stale_at": stale_at})


def test_backoff_reschedules_and_keeps_updated_at(chatdb_conn: Conn) -> None:
    old = Factories(chatdb_conn).chat_diff_status(git_branch="b", git_remote_origin="o")
    later = server_now(chatdb_conn) + timedelta(seconds=15)
    Querier(chatdb_conn).backoff_chat_diff_status(chat_id=old.chat_id, stale_at=later)
    row = stored(chatdb_conn, old.chat_id)
    assert row == ChatDiffStatus(**{**_fields(old), "stale_at": later})


def _fields(status: ChatDiffStatus) -> dict[str, Any]:
    return {name: getattr(status, name) for name in ChatDiffStatus.__dataclass_fields__}


def due_status(f: Factories, age: timedelta, **kw: Any) -> ChatDiffStatus:
    """A status the sync worker should pick up: stale for ``age``, branch and origin known."""
    values: dict[str, Any] = {"git_branch": "feature", "git_remote_origin": "origin"}
    values.update(kw)
    status = f.chat_diff_status(**values)
    f.conn.execute(
        "UPDATE chat_diff_statuses SET stale_at = now() - %s WHERE chat_id = %s",
        (age, status.chat_id),
    )
    return stored(f.conn, status.chat_id)


def test_acquire_takes_due_rows_most_overdue_first_with_owner(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    newer = due_status(f, timedelta(minutes=1))
    oldest = due_status(f, timedelta(minutes=30))
    middle = due_status(f, timedelta(minutes=10))
    due_status(f, timedelta(minutes=40), git_branch="")  # branch unknown
    due_status(f, timedelta(minutes=40), git_remote_origin="")  # origin unknown
    archived = f.chat(archived=True)
    due_status(f, timedelta(minutes=40), chat_id=archived.id)
    f.chat_diff_status(
        git_branch="b", git_remote_origin="o", stale_at=datetime.now().astimezone() + LEASE
    )
    q = Querier(chatdb_conn)

    before = server_now(chatdb_conn)
    got = q.acquire_stale_chat_diff_statuses(limit=2)
    after = server_now(chatdb_conn)

    assert [r.chat_id for r in got] == [oldest.chat_id, middle.chat_id]
    owners = chatdb_conn.execute(
        "SELECT id, owner_id FROM chats WHERE id = ANY(%s)", ([oldest.chat_id, middle.chat_id],)
    ).fetchall()
    assert {r.chat_id: r.owner_id for r in got} == dict(owners)
    for row, old in zip(got, (oldest, middle), strict=True):
        assert before + LEASE <= row.stale_at <= after + LEASE  # leased for 5 minutes
        assert row.updated_at == old.updated_at  # keeps updated_at
        assert stored(chatdb_conn, row.chat_id).stale_at == row.stale_at

    rest = q.acquire_stale_chat_diff_statuses(limit=10)
    assert [r.chat_id for r in rest] == [newer.chat_id]
    assert q.acquire_stale_chat_diff_statuses(limit=10) == []  # all leased


def test_acquire_skips_rows_another_worker_holds(chatdb_conn: Conn, chatdb_dsn: str) -> None:
    f = Factories(chatdb_conn)
    first = due_status(f, timedelta(minutes=20))
    second = due_status(f, timedelta(minutes=10))
    chatdb_conn.execute("SET lock_timeout = '2s'")  # waiting would fail, not hang
    with psycopg.connect(chatdb_dsn) as worker_a:  # its lease stays uncommitted for now
        got_a = Querier(worker_a).acquire_stale_chat_diff_statuses(limit=1)
        assert [r.chat_id for r in got_a] == [first.chat_id]
        got_b = Querier(chatdb_conn).acquire_stale_chat_diff_statuses(limit=10)
        assert [r.chat_id for r in got_b] == [second.chat_id]
        worker_a.commit()
    assert Querier(chatdb_conn).acquire_stale_chat_diff_statuses(limit=10) == []
