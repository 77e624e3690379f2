"""Diff status workflows: stored under the chat's update permission, published as events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatdb.authz import CHATD, Subject, as_actor
from chatdb.errors import InvalidInput, NotAuthorized
from chatdb.events import Kind, Listener
from chatdb.ops import Chats, PullRequestStatus
from tests.events.conftest import events_of, read_until

pytestmark = pytest.mark.timeout(60)


def digest(conn: Any) -> Any:
    return conn.execute(
        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        " FROM chat_diff_statuses AS t"
    ).fetchone()


def test_the_branch_and_the_pull_request_are_stored_and_published(
    listener: Listener, chats: Chats, alice: Subject, model: Any, conn: Any, marker: Any
) -> None:
    with as_actor(alice):
        chat = chats.create_chat(organization_id=next(iter(alice.memberships)), title="pr").chat
    sub = listener.subscribe(chat_id=chat.id)
    read_until(sub, marker(chat))
    with as_actor(alice):
        ref = chats.report_git_reference(chat.id, git_branch="fix/flaky", git_remote_origin="o")
    assert (ref.git_branch, ref.git_remote_origin, ref.url) == ("fix/flaky", "o", None)
    later = datetime.now(UTC) + timedelta(minutes=5)
    pr = chats.record_pull_request(
        chat.id,
        PullRequestStatus(
            url="https://example.invalid/pr/7",
            pull_request_state="open",
            pull_request_title="Fix the flaky test",
            additions=12,
            deletions=3,
            changed_files=2,
            pr_number=7,
        ),
        stale_at=later,
        actor=CHATD,
    )
    row = conn.execute(
        "SELECT git_branch, url, pull_request_title, additions, pr_number"
        " FROM chat_diff_statuses WHERE chat_id = %s",
        [chat.id],
    ).fetchone()
    assert row == ("fix/flaky", "https://example.invalid/pr/7", "Fix the flaky test", 12, 7)
    assert pr.stale_at == later
    got = events_of(read_until(sub, marker(chat)))
    assert [(e.kind, e.chat_id) for e in got] == [(Kind.DIFF_STATUS_CHANGED, chat.id)] * 2


def test_refusals_write_and_publish_nothing(
    listener: Listener, chats: Chats, alice: Subject, bob: Subject, model: Any, conn: Any,
    marker: Any,
) -> None:  # fmt: skip
    with as_actor(alice):
        chat = chats.create_chat(organization_id=next(iter(alice.memberships)), title="pr").chat
    sub = listener.subscribe()
    read_until(sub, marker(chat))
    before = digest(conn)
    with pytest.raises(NotAuthorized):
        chats.report_git_reference(chat.id, git_branch="evil", actor=bob)
    with pytest.raises(NotAuthorized):
        chats.record_pull_request(
            chat.id, PullRequestStatus(url=None), stale_at=datetime.now(UTC), actor=bob
        )
    with pytest.raises(InvalidInput):
        chats.record_pull_request(
            chat.id, PullRequestStatus(url=None, additions=-1), stale_at=datetime.now(UTC),
            actor=CHATD,
        )  # fmt: skip
    with pytest.raises(InvalidInput):
        chats.report_git_reference(chat.id, stale_at=datetime(2030, 1, 1), actor=alice)
    assert digest(conn) == before
    assert read_until(sub, marker(chat)) == []
