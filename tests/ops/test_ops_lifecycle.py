"""Archive/unarchive families, pins, the read watermark, title and labels (SPEC 5)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.db import ChatStatus, Querier
from chatdb.errors import ChatArchived, Conflict, InvalidInput
from chatdb.ops import Chats
from chatdb.testing.factories import Factories

State = dict[str, object]
Spawn = Callable[[Callable[[], object]], tuple[threading.Thread, list[object]]]


@pytest.fixture
def family(chats: Chats, org: db.Organization, alice: Subject, model: Any) -> list[db.Chat]:
    """A root chat, its sub-agent, and the sub-agent's own sub-agent."""
    root = chats.create_chat(organization_id=org.id, title="root", actor=alice).chat
    child = chats.create_chat(parent_chat_id=root.id, actor=CHATD).chat
    grandchild = chats.create_chat(parent_chat_id=child.id, actor=CHATD).chat
    return [root, child, grandchild]


def archived(q: Querier, chats: list[db.Chat]) -> list[bool]:
    return [q.get_chat_by_id(id=c.id).archived for c in chats]


# ---- archive / unarchive -----------------------------------------------------------------


def test_archiving_a_root_archives_its_whole_family(
    chats: Chats, q: Querier, family: list[db.Chat], alice: Subject
) -> None:
    affected = chats.archive(family[0].id, actor=alice)
    assert [c.id for c in affected] == [c.id for c in family]
    assert archived(q, family) == [True, True, True]


def test_archiving_a_sub_agent_archives_its_own_sub_agents_but_not_its_parent(
    chats: Chats, q: Querier, family: list[db.Chat], alice: Subject
) -> None:
    root, child, grandchild = family
    affected = chats.archive(child.id, actor=alice)
    assert [c.id for c in affected] == [child.id, grandchild.id]
    assert archived(q, family) == [False, True, True]
    # Nothing live is listed under the archived sub-agent, at any depth.
    assert q.get_child_chats_by_parent_ids(parent_ids=[child.id], archived=False) == []
    live_children = q.get_child_chats_by_parent_ids(parent_ids=[root.id], archived=False)
    assert live_children == []


def test_archive_keeps_the_family_invariant_at_every_depth(
    chats: Chats, q: Querier, org: db.Organization, alice: Subject, model: Any
) -> None:
    """A chain five deep: archiving any link archives exactly it and everything below."""
    chain = [chats.create_chat(organization_id=org.id, actor=alice).chat]
    for _ in range(4):
        chain.append(chats.create_chat(parent_chat_id=chain[-1].id, actor=CHATD).chat)
    sibling = chats.create_chat(parent_chat_id=chain[1].id, actor=CHATD).chat
    for depth in range(len(chain) - 1, -1, -1):
        chats.archive(chain[depth].id, actor=alice)
        assert archived(q, chain) == [i >= depth for i in range(len(chain))]
        # The sibling hangs under chain[1]: archived once chain[1] (or above) is.
        assert q.get_chat_by_id(id=sibling.id).archived is (depth <= 1)
        # Unarchiving is the reverse over the same subtree.
        chats.unarchive(chain[depth].id, actor=alice)
        assert archived(q, [*chain, sibling]) == [False] * (len(chain) + 1)
        chats.archive(chain[depth].id, actor=alice)
    # Unarchiving the root brings the whole family back, whatever depth was archived first.
    chats.unarchive(chain[0].id, actor=alice)
    assert archived(q, [*chain, sibling]) == [False] * (len(chain) + 1)


def test_unarchive_through_the_querier_leaves_a_child_of_an_archived_parent_archived(
    store: Any, q: Querier, family: list[db.Chat], alice: Subject, chats: Chats
) -> None:
    """The refusal is in the statement too, not only in the workflow's check."""
    chats.archive(family[0].id, actor=alice)
    with store.querier() as plain:
        authorized = AuthzQuerier(plain, actor=alice)
        assert authorized.unarchive_chat_by_id(id=family[1].id) == []
    assert archived(q, family) == [True, True, True]


def test_archiving_stops_a_running_chat_and_its_worker_is_told_to_stop(
    chats: Chats, q: Querier, org: db.Organization, alice: Subject, model: Any
) -> None:
    worker = uuid4()
    running = chats.create_chat(organization_id=org.id, content="go", actor=alice).chat
    pending_child = chats.create_chat(parent_chat_id=running.id, content="help", actor=CHATD).chat
    assert [c.id for c in chats.acquire_chats(worker, actor=CHATD)] == [running.id]
    assert chats.heartbeat(worker, actor=CHATD) == {running.id}

    chats.archive(running.id, actor=alice)

    for chat_id in (running.id, pending_child.id):
        row = q.get_chat_by_id(id=chat_id)
        assert row.archived
        assert row.status is ChatStatus.WAITING
        assert (row.worker_id, row.started_at, row.heartbeat_at) == (None, None, None)
    assert chats.heartbeat(worker, actor=CHATD) == set()  # the worker's signal to stop
    assert chats.acquire_chats(uuid4(), actor=CHATD, num_chats=10) == []


def test_archiving_keeps_a_chat_waiting_for_tool_results_in_that_state(
    chats: Chats, q: Querier, f: Factories, org: db.Organization, alice: Subject, model: Any
) -> None:
    chat = f.chat(
        owner_id=alice.id,
        organization_id=org.id,
        last_model_config_id=model.id,
        status="requires_action",
    )
    chats.archive(chat.id, actor=alice)
    assert q.get_chat_by_id(id=chat.id).status is ChatStatus.REQUIRES_ACTION


def test_archiving_an_archived_chat_keeps_its_archive_time(
    chats: Chats, q: Querier, family: list[db.Chat], alice: Subject
) -> None:
    chats.archive(family[0].id, actor=alice)
    first = q.get_chat_by_id(id=family[0].id)
    assert chats.archive(family[0].id, actor=alice) == [first]
    assert q.get_chat_by_id(id=family[0].id).updated_at == first.updated_at


def test_unarchiving_a_root_restores_its_family(
    chats: Chats, q: Querier, family: list[db.Chat], alice: Subject
) -> None:
    chats.archive(family[0].id, actor=alice)
    affected = chats.unarchive(family[0].id, actor=alice)
    assert {c.id for c in affected} == {c.id for c in family}
    assert archived(q, family) == [False, False, False]


def test_unarchiving_a_child_whose_parent_is_archived_is_refused(
    chats: Chats,
    q: Querier,
    family: list[db.Chat],
    alice: Subject,
    db_state: Callable[[], State],
) -> None:
    chats.archive(family[0].id, actor=alice)
    before = db_state()
    with pytest.raises(Conflict):
        chats.unarchive(family[1].id, actor=alice)
    assert db_state() == before
    assert archived(q, family) == [True, True, True]


def test_unarchiving_a_child_alone_works_while_its_parent_is_live(
    chats: Chats, q: Querier, family: list[db.Chat], alice: Subject
) -> None:
    chats.archive(family[1].id, actor=alice)
    assert [c.id for c in chats.unarchive(family[1].id, actor=alice)] == [
        family[1].id,
        family[2].id,
    ]
    assert archived(q, family) == [False, False, False]


def test_unarchiving_a_child_while_its_parent_is_being_archived_waits_and_then_refuses(
    chats: Chats,
    q: Querier,
    family: list[db.Chat],
    alice: Subject,
    chatdb_dsn: str,
    wait_for_lock_waiters: Callable[[int], None],
    in_thread: Spawn,
) -> None:
    root, child, _ = family
    chats.archive(child.id, actor=alice)  # archived alone; the parent is live
    with psycopg.connect(chatdb_dsn) as other:
        Querier(other).archive_chat_by_id(id=root.id)  # locks the family, not yet committed
        thread, out = in_thread(lambda: chats.unarchive(child.id, actor=alice))
        wait_for_lock_waiters(1)
        other.commit()
    thread.join(10)
    assert isinstance(out[0], Conflict)
    assert archived(q, family) == [True, True, True]


# ---- pins --------------------------------------------------------------------------------


def test_pins_append_in_order_and_can_be_reordered_and_removed(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    a, b, c = (chats.create_chat(organization_id=org.id, actor=alice).chat for _ in range(3))
    assert [chats.pin(x.id, actor=alice).pin_order for x in (a, b, c)] == [1, 2, 3]
    assert chats.pin(b.id, actor=alice).pin_order == 2  # already pinned: unchanged

    assert chats.reorder_pin(c.id, 1, actor=alice).pin_order == 1
    assert chats.reorder_pin(a.id, 99, actor=alice).pin_order == 3  # clamped to the pin count

    chats.unpin(c.id, actor=alice)
    orders = {x.id: chats.pin(x.id, actor=alice).pin_order for x in (b, a)}
    assert orders == {b.id: 1, a.id: 2}
    assert chats.unpin(c.id, actor=alice).pin_order == 0  # unpinning twice is a no-op


def test_pinning_an_archived_chat_is_refused(
    chats: Chats, family: list[db.Chat], alice: Subject, db_state: Callable[[], State]
) -> None:
    chats.archive(family[0].id, actor=alice)
    before = db_state()
    with pytest.raises(ChatArchived):
        chats.pin(family[0].id, actor=alice)
    assert db_state() == before


def test_pinning_a_sub_agent_chat_is_refused(
    chats: Chats, family: list[db.Chat], alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(InvalidInput):
        chats.pin(family[1].id, actor=alice)
    assert db_state() == before


def test_archiving_unpins(chats: Chats, q: Querier, family: list[db.Chat], alice: Subject) -> None:
    chats.pin(family[0].id, actor=alice)
    chats.archive(family[0].id, actor=alice)
    assert q.get_chat_by_id(id=family[0].id).pin_order == 0


def test_a_pin_position_below_one_is_refused_before_the_database_is_asked(
    chats: Chats, family: list[db.Chat], alice: Subject, db_state: Callable[[], State]
) -> None:
    chats.pin(family[0].id, actor=alice)
    before = db_state()
    for position in (0, -1, True, "1"):
        with pytest.raises(InvalidInput) as exc:
            chats.reorder_pin(family[0].id, position, actor=alice)  # type: ignore[arg-type]
        assert exc.value.field == "position", position
    assert db_state() == before


def test_reordering_an_unpinned_chat_pins_it_at_the_end(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    a, b, c = (chats.create_chat(organization_id=org.id, actor=alice).chat for _ in range(3))
    chats.pin(a.id, actor=alice)
    chats.pin(b.id, actor=alice)
    # Position 1 asked for, but an unpinned chat is appended (the seed's handler).
    assert chats.reorder_pin(c.id, 1, actor=alice).pin_order == 3
    assert [chats.pin(x.id, actor=alice).pin_order for x in (a, b, c)] == [1, 2, 3]


# ---- read watermark ----------------------------------------------------------------------


def test_marking_read_moves_the_watermark_to_the_newest_assistant_message_only_forward(
    chats: Chats, q: Querier, f: Factories, family: list[db.Chat], alice: Subject
) -> None:
    root = family[0]
    first = f.chat_message(chat_id=root.id, role="assistant")
    newest = f.chat_message(chat_id=root.id, role="assistant")
    f.chat_message(chat_id=root.id, role="user")

    assert chats.mark_read(root.id, actor=alice).last_read_message_id == newest.id
    assert chats.mark_read(root.id, first.id, actor=alice).last_read_message_id == newest.id
    assert q.get_chat_by_id(id=root.id).last_read_message_id == newest.id


def test_marking_read_keeps_updated_at_and_works_on_archived_chats(
    chats: Chats, q: Querier, f: Factories, family: list[db.Chat], alice: Subject
) -> None:
    root = family[0]
    message = f.chat_message(chat_id=root.id, role="assistant")
    chats.archive(root.id, actor=alice)
    before = q.get_chat_by_id(id=root.id)
    after = chats.mark_read(root.id, message.id, actor=alice)
    assert after.last_read_message_id == message.id
    assert after.updated_at == before.updated_at


def test_marking_read_with_another_chats_message_is_refused(
    chats: Chats, f: Factories, family: list[db.Chat], alice: Subject
) -> None:
    foreign = f.chat_message(chat_id=family[1].id, role="assistant")
    with pytest.raises(InvalidInput):
        chats.mark_read(family[0].id, foreign.id, actor=alice)


def test_marking_read_without_assistant_messages_changes_nothing(
    chats: Chats, family: list[db.Chat], alice: Subject
) -> None:
    assert chats.mark_read(family[0].id, actor=alice).last_read_message_id is None


# ---- title and labels --------------------------------------------------------------------


def test_labels_are_validated_and_replaced_whole(
    chats: Chats, family: list[db.Chat], alice: Subject, db_state: Callable[[], State]
) -> None:
    root = family[0]
    chats.update_chat(root.id, labels={"a": "1", "b": "2"}, actor=alice)
    updated = chats.update_chat(root.id, labels={"c": "3"}, actor=alice)
    assert updated.labels == {"c": "3"}
    assert chats.update_chat(root.id, title="renamed", actor=alice).labels == {"c": "3"}

    before = db_state()
    for bad in ({"bad key": "x"}, {"k": "v" * 257}, {"k": 1}):
        with pytest.raises(InvalidInput):
            chats.update_chat(root.id, labels=bad, actor=alice)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        chats.update_chat(root.id, title="  ", actor=alice)
    assert db_state() == before


def test_list_chats_pages_the_actors_readable_root_chats(chatdb_conn: Any) -> None:
    from chatdb.authz import CHAT_ACCESS, Subject
    from chatdb.db import Querier
    from chatdb.ops import Chats
    from chatdb.store import Store
    from chatdb.testing.factories import Factories

    f = Factories(chatdb_conn)
    org = f.organization()
    alice = f.user(organization_id=org.id, rbac_roles=[CHAT_ACCESS])
    mine = [f.chat(owner_id=alice.id, organization_id=org.id, title=f"a{i}") for i in range(3)]
    f.chat(owner_id=alice.id, organization_id=org.id, parent_chat_id=mine[0].id)  # a child
    f.chat(organization_id=org.id)  # someone else's
    subject = Subject(id=alice.id, name="alice", site_roles=(CHAT_ACCESS,), memberships={org.id})
    with Store(chatdb_conn.info.dsn, querier_factory=Querier) as store:
        chats = Chats(store)
        first = chats.list_chats(limit=2, actor=subject)
        rest = chats.list_chats(limit=2, after_id=first[-1].chats.id, actor=subject)
    assert {r.chats.id for r in first + rest} == {c.id for c in mine}
    assert len(first) == 2 and len(rest) == 1
