"""SQL-level behaviour of the file queries (SPEC 4.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb.db import ChatFile, Querier
from chatdb.errors import ForeignKeyViolation, NotFound
from chatdb.testing.factories import Factories

Conn = psycopg.Connection[Any]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def linked_ids(conn: Conn, chat_id: UUID) -> set[UUID]:
    rows = conn.execute("SELECT file_id FROM chat_file_links WHERE chat_id = %s", (chat_id,))
    return {r[0] for r in rows.fetchall()}


def file_ids(conn: Conn) -> set[UUID]:
    return {r[0] for r in conn.execute("SELECT id FROM chat_files").fetchall()}


# ---- insert and read ---------------------------------------------------------------------


def test_insert_returns_metadata_and_stores_the_data(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    org = f.organization()
    owner = f.user(organization_id=org.id)
    data = bytes(range(256)) * 4
    q = Querier(chatdb_conn)
    meta = q.insert_chat_file(
        owner_id=owner.id, organization_id=org.id, name="a.bin", mimetype="image/png", data=data
    )
    assert not hasattr(meta, "data")
    assert (meta.owner_id, meta.organization_id) == (owner.id, org.id)
    assert (meta.name, meta.mimetype) == ("a.bin", "image/png")
    full = q.get_chat_file_by_id(id=meta.id)
    assert full == ChatFile(
        id=meta.id,
        owner_id=owner.id,
        organization_id=org.id,
        created_at=meta.created_at,
        name="a.bin",
        mimetype="image/png",
        data=data,
    )


def test_get_file_by_id_not_found(chatdb_conn: Conn) -> None:
    with pytest.raises(NotFound):
        Querier(chatdb_conn).get_chat_file_by_id(id=uuid4())


def test_metadata_by_chat_lists_linked_files_oldest_first(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    newer = f.chat_file(created_at=T0 + timedelta(hours=2))
    older = f.chat_file(created_at=T0)
    f.chat_file(created_at=T0 - timedelta(hours=1))  # not linked
    elsewhere = f.chat_file(created_at=T0 + timedelta(hours=1))
    for file in (newer, older):
        f.chat_file_link(chat_id=chat.id, file_id=file.id)
    f.chat_file_link(chat_id=f.chat().id, file_id=elsewhere.id)
    rows = Querier(chatdb_conn).get_chat_file_metadata_by_chat_id(chat_id=chat.id)
    assert [r.id for r in rows] == [older.id, newer.id]
    assert [(r.name, r.mimetype, r.created_at) for r in rows] == [
        (older.name, older.mimetype, older.created_at),
        (newer.name, newer.mimetype, newer.created_at),
    ]
    assert all(not hasattr(r, "data") for r in rows)


# ---- linking -----------------------------------------------------------------------------


def test_link_adds_new_files_and_ignores_ones_already_linked(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    a, b, c = f.chat_file(), f.chat_file(), f.chat_file()
    f.chat_file_link(chat_id=chat.id, file_id=a.id)
    q = Querier(chatdb_conn)
    refused = q.link_chat_files(chat_id=chat.id, file_ids=[a.id, b.id, b.id, c.id], max_links=3)
    assert refused.refused == 0  # a is already linked, b repeated: 3 links in all, at the cap
    assert linked_ids(chatdb_conn, chat.id) == {a.id, b.id, c.id}
    again = q.link_chat_files(chat_id=chat.id, file_ids=[c.id, a.id], max_links=3)
    assert again.refused == 0
    assert linked_ids(chatdb_conn, chat.id) == {a.id, b.id, c.id}


def test_link_over_the_cap_links_nothing_and_counts_the_refused(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    existing = [f.chat_file() for _ in range(2)]
    for file in existing:
        f.chat_file_link(chat_id=chat.id, file_id=file.id)
    new = [f.chat_file() for _ in range(2)]
    q = Querier(chatdb_conn)
    got = q.link_chat_files(
        chat_id=chat.id, file_ids=[existing[0].id, new[0].id, new[1].id], max_links=3
    )
    assert got.refused == 2  # both new ids refused, all or nothing
    assert linked_ids(chatdb_conn, chat.id) == {e.id for e in existing}
    assert q.link_chat_files(chat_id=chat.id, file_ids=[new[0].id], max_links=3).refused == 0
    assert linked_ids(chatdb_conn, chat.id) == {e.id for e in existing} | {new[0].id}


def test_link_cap_counts_only_this_chats_links(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat, other = f.chat(), f.chat()
    shared = f.chat_file()
    f.chat_file_link(chat_id=other.id, file_id=shared.id)
    f.chat_file_link(chat_id=other.id, file_id=f.chat_file().id)
    got = Querier(chatdb_conn).link_chat_files(chat_id=chat.id, file_ids=[shared.id], max_links=1)
    assert got.refused == 0
    assert linked_ids(chatdb_conn, chat.id) == {shared.id}


def test_link_of_an_unknown_file_is_a_foreign_key_violation(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    chat = f.chat()
    known = f.chat_file()
    with pytest.raises(ForeignKeyViolation) as err:
        Querier(chatdb_conn).link_chat_files(
            chat_id=chat.id, file_ids=[known.id, uuid4()], max_links=10
        )
    assert err.value.constraint == "chat_file_links_file_id_fkey"
    assert linked_ids(chatdb_conn, chat.id) == set()


# ---- retention ---------------------------------------------------------------------------


def test_delete_old_files_keeps_files_that_still_matter(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    threshold = T0
    old = T0 - timedelta(days=10)

    def old_file() -> ChatFile:
        return f.chat_file(created_at=old)

    def link(file: ChatFile, **chat: Any) -> None:
        f.chat_file_link(chat_id=f.chat(**chat).id, file_id=file.id)

    orphan = old_file()
    in_live_chat = old_file()
    link(in_live_chat, updated_at=old)
    in_recently_archived = old_file()
    link(in_recently_archived, archived=True, updated_at=threshold + timedelta(hours=1))
    archived_at_threshold = old_file()
    link(archived_at_threshold, archived=True, updated_at=threshold)
    in_long_archived = old_file()
    link(in_long_archived, archived=True, updated_at=old)
    in_archived_and_live = old_file()
    link(in_archived_and_live, archived=True, updated_at=old)
    link(in_archived_and_live, updated_at=old)
    recent_orphan = f.chat_file(created_at=threshold + timedelta(seconds=1))

    deleted = Querier(chatdb_conn).delete_old_chat_files(before_time=threshold, limit=100)

    assert deleted == 2
    assert file_ids(chatdb_conn) == {
        in_live_chat.id,
        in_recently_archived.id,
        archived_at_threshold.id,
        in_archived_and_live.id,
        recent_orphan.id,
    }
    assert orphan.id not in file_ids(chatdb_conn)
    assert in_long_archived.id not in file_ids(chatdb_conn)


def test_delete_old_files_works_in_batches_oldest_first(chatdb_conn: Conn) -> None:
    f = Factories(chatdb_conn)
    files = [f.chat_file(created_at=T0 - timedelta(days=d)) for d in (1, 5, 3, 4, 2)]
    by_age = sorted(files, key=lambda file: file.created_at)
    q = Querier(chatdb_conn)
    assert q.delete_old_chat_files(before_time=T0, limit=2) == 2
    assert file_ids(chatdb_conn) == {file.id for file in by_age[2:]}
    assert q.delete_old_chat_files(before_time=T0, limit=2) == 2
    assert file_ids(chatdb_conn) == {by_age[4].id}
    assert q.delete_old_chat_files(before_time=T0, limit=2) == 1
    assert q.delete_old_chat_files(before_time=T0, limit=2) == 0
