"""Files follow messages (SPEC 5, seeds: "User-uploaded files are linked to the chat when the
referencing message is sent"): a message citing files links them to its chat in the same
transaction, and only files the sender may read; chat files hold at most 100 MB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import ChatStatus, Querier
from chatdb.errors import FileTooLarge, InvalidInput, NotAuthorized, NotFound, classify
from chatdb.ops import MAX_CHAT_FILE_BYTES, Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

State = dict[str, object]


def file_part(file_id: UUID) -> dict[str, object]:
    return {"type": "file", "file_id": str(file_id), "media_type": "image/png"}


def citing(*file_ids: UUID) -> list[dict[str, object]]:
    return [{"type": "text", "text": "look at this"}, *(file_part(i) for i in file_ids)]


def linked(q: Querier, chat_id: UUID) -> set[UUID]:
    return {m.id for m in q.get_chat_file_metadata_by_chat_id(chat_id=chat_id)}


@pytest.fixture
def upload(chats: Chats, org: db.Organization) -> Callable[[Subject], UUID]:
    def make(owner: Subject) -> UUID:
        meta = chats.upload_file(
            organization_id=org.id, name="shot.png", mimetype="image/png", data=b"png", actor=owner
        )
        return meta.id

    return make


@pytest.fixture
def idle_chat(chats: Chats, org: db.Organization, alice: Subject, model: Any) -> db.Chat:
    return chats.create_chat(organization_id=org.id, actor=alice).chat


# ---- create_chat -------------------------------------------------------------------------


def test_creating_a_chat_with_a_message_citing_my_file_links_it(
    chats: Chats, q: Querier, org: db.Organization, alice: Subject, model: Any, upload: Any
) -> None:
    mine = upload(alice)
    created = chats.create_chat(organization_id=org.id, content=citing(mine), actor=alice)
    assert linked(q, created.chat.id) == {mine}


def test_creating_a_chat_citing_someone_elses_file_is_refused_and_writes_nothing(
    chats: Chats,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    model: Any,
    upload: Any,
    db_state: Callable[[], State],
) -> None:
    bobs = upload(bob)
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.create_chat(organization_id=org.id, content=citing(bobs), actor=alice)
    assert db_state() == before


# ---- send_message ------------------------------------------------------------------------


def test_sending_a_message_citing_my_files_links_them_once(
    chats: Chats, q: Querier, idle_chat: db.Chat, alice: Subject, upload: Any
) -> None:
    a, b = upload(alice), upload(alice)
    sent = chats.send_message(idle_chat.id, citing(a, b, a), actor=alice)
    assert sent.message is not None
    assert linked(q, idle_chat.id) == {a, b}
    # Sending again (now queued: the chat is pending) keeps one link per file.
    assert chats.send_message(idle_chat.id, citing(b), actor=alice).was_queued
    assert linked(q, idle_chat.id) == {a, b}


@pytest.mark.parametrize("busy", [False, True], ids=["admitted", "queued"])
def test_sending_a_message_citing_someone_elses_file_is_refused_and_writes_nothing(
    chats: Chats,
    idle_chat: db.Chat,
    alice: Subject,
    bob: Subject,
    upload: Any,
    db_state: Callable[[], State],
    busy: bool,
) -> None:
    mine, bobs = upload(alice), upload(bob)
    if busy:
        chats.send_message(idle_chat.id, "start", actor=alice)
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.send_message(idle_chat.id, citing(mine, bobs), actor=alice)
    assert db_state() == before


def test_sending_a_message_citing_a_file_that_does_not_exist_is_refused_and_writes_nothing(
    chats: Chats,
    idle_chat: db.Chat,
    alice: Subject,
    upload: Any,
    db_state: Callable[[], State],
) -> None:
    mine, ghost = upload(alice), uuid4()
    before = db_state()
    with pytest.raises(NotFound) as caught:
        chats.send_message(idle_chat.id, citing(mine, ghost), actor=alice)
    assert str(ghost) in str(caught.value)
    assert db_state() == before


def test_a_file_of_another_organization_cannot_be_cited(
    chats: Chats,
    f: Factories,
    idle_chat: db.Chat,
    alice: Subject,
    db_state: Callable[[], State],
) -> None:
    """Alice is a member of two organizations and may read her file in the other one, but a
    chat never crosses organizations."""
    elsewhere = f.organization()
    f.organization_member(organization_id=elsewhere.id, user_id=alice.id)
    both = Subject(
        id=alice.id,
        name="alice",
        site_roles=alice.site_roles,
        memberships={*alice.memberships, elsewhere.id},
    )
    other_org_file = chats.upload_file(
        organization_id=elsewhere.id, name="x", mimetype="text/plain", data=b"x", actor=both
    )
    before = db_state()
    with pytest.raises(InvalidInput):
        chats.send_message(idle_chat.id, citing(other_org_file.id), actor=both)
    assert db_state() == before


# ---- edit_message and promotion ----------------------------------------------------------


def test_editing_a_message_to_cite_a_file_links_it_and_someone_elses_is_refused(
    chats: Chats,
    q: Querier,
    idle_chat: db.Chat,
    alice: Subject,
    bob: Subject,
    upload: Any,
    db_state: Callable[[], State],
) -> None:
    sent = chats.send_message(idle_chat.id, "first", actor=alice)
    assert sent.message is not None
    bobs = upload(bob)
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.edit_message(sent.message.id, citing(bobs), actor=alice)
    assert db_state() == before
    mine = upload(alice)
    chats.edit_message(sent.message.id, citing(mine), actor=alice)
    assert linked(q, idle_chat.id) == {mine}


def test_promoting_a_queued_message_links_the_files_it_cites(
    chats: Chats,
    q: Querier,
    f: Factories,
    idle_chat: db.Chat,
    alice: Subject,
    upload: Any,
) -> None:
    """A queued row written before files were linked at send time (e.g. by an older
    version) gets its files linked when it is promoted."""
    mine = upload(alice)
    chats.send_message(idle_chat.id, "start", actor=alice)
    f.chat_queued_message(chat_id=idle_chat.id, content=citing(mine))
    assert linked(q, idle_chat.id) == set()
    q.update_chat_status(
        id=idle_chat.id,
        status=ChatStatus.COMPLETED,
        worker_id=None,
        started_at=None,
        heartbeat_at=None,
        last_error=None,
    )
    promoted = chats.auto_promote(idle_chat.id, actor=CHATD)
    assert promoted is not None
    assert linked(q, idle_chat.id) == {mine}


def test_promoting_a_queued_message_citing_an_unreadable_file_is_refused(
    chats: Chats,
    f: Factories,
    idle_chat: db.Chat,
    alice: Subject,
    bob: Subject,
    upload: Any,
    db_state: Callable[[], State],
) -> None:
    bobs = upload(bob)
    chats.send_message(idle_chat.id, "start", actor=alice)
    f.chat_queued_message(chat_id=idle_chat.id, content=citing(bobs))
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.promote_queued(idle_chat.id, actor=alice)
    assert db_state() == before


# ---- metadata by ids ---------------------------------------------------------------------


def test_file_metadata_by_ids_returns_only_files_the_actor_may_read(
    store: Store[Querier], alice: Subject, bob: Subject, upload: Any
) -> None:
    mine, bobs, ghost = upload(alice), upload(bob), uuid4()
    with store.querier() as plain:
        rows = AuthzQuerier(plain, actor=alice).get_chat_file_metadata_by_ids(
            ids=[mine, bobs, ghost]
        )
        assert [r.id for r in rows] == [mine]
        assert {
            r.id
            for r in AuthzQuerier(plain, actor=CHATD).get_chat_file_metadata_by_ids(
                ids=[mine, bobs, ghost]
            )
        } == {mine, bobs}
    assert not hasattr(rows[0], "data")


# ---- upload and the 100 MB limit ---------------------------------------------------------


def test_a_tool_output_stored_for_a_chat_belongs_to_it_and_is_linked(
    chats: Chats, q: Querier, idle_chat: db.Chat, alice: Subject
) -> None:
    meta = chats.upload_file(
        chat_id=idle_chat.id, name="rec.mp4", mimetype="video/mp4", data=b"\0" * 64, actor=CHATD
    )
    assert (meta.owner_id, meta.organization_id) == (alice.id, idle_chat.organization_id)
    assert linked(q, idle_chat.id) == {meta.id}


def test_a_file_over_100_mb_is_refused_before_it_is_sent(
    chats: Chats, org: db.Organization, alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(FileTooLarge) as caught:
        chats.upload_file(
            organization_id=org.id,
            name="rec.mp4",
            mimetype="video/mp4",
            data=bytes(MAX_CHAT_FILE_BYTES + 1),
            actor=alice,
        )
    assert caught.value.constraint == "chat_files_data_size_check"
    assert "100 MB" in str(caught.value)
    assert db_state() == before


def test_the_database_refuses_a_file_over_100_mb_on_every_path(
    conn: psycopg.Connection[Any], f: Factories, db_state: Callable[[], State]
) -> None:
    """The CHECK itself: the oversized value is built by the server, so the test does not
    ship 100 MB. (Writing an accepted 100 MB row takes seconds; the boundary is the same
    ``<=`` the Python check uses, tested above with MAX_CHAT_FILE_BYTES + 1.)"""
    small = f.chat_file()
    grow = "UPDATE chat_files SET data = convert_to(repeat('a', %s), 'UTF8') WHERE id = %s"
    before = db_state()
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        conn.execute(grow, (MAX_CHAT_FILE_BYTES + 1, small.id))
    assert isinstance(classify(caught.value), FileTooLarge)
    assert db_state() == before
