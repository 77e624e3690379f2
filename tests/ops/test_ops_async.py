"""The asyncio twins of the workflows: same rules, actor from the context, every one present."""

from __future__ import annotations

import inspect

import pytest

from chatdb import db
from chatdb.authz import Subject, as_actor
from chatdb.errors import ChatArchived, NotAuthorized
from chatdb.ops import AsyncChats, Chats


def test_every_public_workflow_has_an_async_twin() -> None:
    workflows = {
        name
        for name, member in inspect.getmembers(Chats, inspect.isfunction)
        if not name.startswith("_")
    }
    assert workflows == {
        name
        for name, member in vars(AsyncChats).items()
        if inspect.iscoroutinefunction(member) and not name.startswith("_")
    }


async def test_create_send_and_list_as_the_context_actor(
    chats: Chats, alice: Subject, bob: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    achats = AsyncChats(chats)
    with as_actor(alice):
        created = await achats.create_chat(organization_id=org.id, content="hello")
        sent = await achats.send_message(created.chat.id, "and another thing")
        page = await achats.list_chats()
    assert sent.was_queued  # the first message made the chat pending
    assert [row.chats.id for row in page] == [created.chat.id]
    with as_actor(bob), pytest.raises(NotAuthorized):
        await achats.send_message(created.chat.id, "not my chat")


async def test_refusals_arrive_as_the_same_typed_errors(
    chats: Chats, alice: Subject, org: db.Organization, model: db.ChatModelConfig
) -> None:
    achats = AsyncChats(chats)
    created = await achats.create_chat(organization_id=org.id, actor=alice)
    await achats.archive(created.chat.id, actor=alice)
    with pytest.raises(ChatArchived):
        await achats.send_message(created.chat.id, "too late", actor=alice)
    with pytest.raises(NotAuthorized):
        await achats.list_chats()  # no actor
