"""create_chat (SPEC 5): one INSERT in the final state, one batched message insert, in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from chatdb import db
from chatdb.authz import CHATD, Subject
from chatdb.content import ContextFilePart, TextPart, dump_content
from chatdb.db import (
    ChatClientType,
    ChatMessageRole,
    ChatMessageVisibility,
    ChatMode,
    ChatPlanMode,
    ChatStatus,
    Querier,
)
from chatdb.errors import ChatArchived, InvalidInput, NotAuthorized
from chatdb.ops import Chats
from chatdb.store import Store
from chatdb.testing.factories import Factories

State = dict[str, object]

STATEMENT_LOG = """
CREATE TABLE write_log (tbl text NOT NULL, op text NOT NULL, level text NOT NULL);
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO write_log VALUES (TG_TABLE_NAME, TG_OP, TG_LEVEL);
    RETURN NULL;
END $$;
CREATE TRIGGER chats_rows AFTER INSERT OR UPDATE ON chats
    FOR EACH ROW EXECUTE FUNCTION log_write();
CREATE TRIGGER chat_messages_statements AFTER INSERT ON chat_messages
    FOR EACH STATEMENT EXECUTE FUNCTION log_write();
"""


def texts(messages: list[db.ChatMessage]) -> list[str]:
    return ["".join(p["text"] for p in m.content or [] if p["type"] == "text") for m in messages]


def set_site(conn: psycopg.Connection[Any], key: str, value: str) -> None:
    conn.execute("INSERT INTO site_configs (key, value) VALUES (%s, %s)", (key, value))


def test_first_message_makes_the_chat_pending_and_messages_follow_the_documented_order(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    f: Factories,
    org: db.Organization,
    model: db.ChatModelConfig,
    alice: Subject,
) -> None:
    set_site(conn, "agents_chat_system_prompt", "Site rules.")
    workspace = f.workspace(organization_id=org.id, owner_id=alice.id, name="dev-box")
    chats = Chats(store, default_system_prompt="Built-in prompt.")

    created = chats.create_chat(
        organization_id=org.id,
        content="Fix the build",
        system_prompt="Answer in French.",
        workspace_id=workspace.id,
        actor=alice,
    )

    chat = created.chat
    assert chat.status is ChatStatus.PENDING
    assert (chat.owner_id, chat.organization_id, chat.workspace_id) == (
        alice.id,
        org.id,
        workspace.id,
    )
    assert chat.last_model_config_id == model.id
    roles = [(m.role, m.visibility) for m in created.messages]
    assert roles == [
        (ChatMessageRole.SYSTEM, ChatMessageVisibility.MODEL),
        (ChatMessageRole.SYSTEM, ChatMessageVisibility.MODEL),
        (ChatMessageRole.SYSTEM, ChatMessageVisibility.MODEL),
        (ChatMessageRole.USER, ChatMessageVisibility.BOTH),
    ]
    deployment, own, awareness, first = texts(created.messages)
    assert deployment == "Built-in prompt.\n\nSite rules."
    assert own == "Answer in French."
    assert "dev-box" in awareness
    assert first == "Fix the build"
    assert [m.id for m in created.messages] == sorted(m.id for m in created.messages)
    assert created.messages[-1].created_by == alice.id
    assert all(m.created_by is None for m in created.messages[:-1])
    assert all(m.content_version == 1 for m in created.messages)
    assert Querier(conn).get_chat_by_id(id=chat.id) == chat


def test_chat_is_written_once_and_its_messages_in_one_statement(
    chats: Chats, conn: psycopg.Connection[Any], org: db.Organization, alice: Subject, model: Any
) -> None:
    set_site(conn, "agents_chat_system_prompt", "Site rules.")
    conn.execute(STATEMENT_LOG)

    chats.create_chat(
        organization_id=org.id, content="hello", system_prompt="Be brief.", actor=alice
    )

    log = conn.execute("SELECT tbl, op, level FROM write_log ORDER BY tbl").fetchall()
    assert log == [("chat_messages", "INSERT", "STATEMENT"), ("chats", "INSERT", "ROW")]


def test_chat_without_a_first_message_waits_and_has_no_user_message(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    created = chats.create_chat(organization_id=org.id, system_prompt="Be brief.", actor=alice)
    assert created.chat.status is ChatStatus.WAITING
    assert [m.role for m in created.messages] == [ChatMessageRole.SYSTEM]


def test_builtin_prompt_is_left_out_when_the_site_turns_it_off(
    store: Store[Querier],
    conn: psycopg.Connection[Any],
    org: db.Organization,
    alice: Subject,
    model: Any,
) -> None:
    set_site(conn, "agents_chat_system_prompt", "Site rules.")
    set_site(conn, "agents_include_default_system_prompt", "false")
    chats = Chats(store, default_system_prompt="Built-in prompt.")
    created = chats.create_chat(organization_id=org.id, content="hi", actor=alice)
    assert texts(created.messages) == ["Site rules.", "hi"]


def test_no_deployment_prompt_message_when_none_is_configured(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    created = chats.create_chat(organization_id=org.id, content="hi", actor=alice)
    assert [m.role for m in created.messages] == [ChatMessageRole.USER]


def test_options_are_passed_through_to_the_chat_row(
    chats: Chats, f: Factories, org: db.Organization, alice: Subject, model: Any
) -> None:
    other_model = f.chat_model_config()
    mcp = [f.mcp_server_config().id, f.mcp_server_config().id]
    tools = [{"name": "lookup", "description": "Look it up", "input_schema": {"type": "object"}}]

    chat = chats.create_chat(
        organization_id=org.id,
        title="Planning",
        model_config_id=other_model.id,
        mode="explore",
        plan_mode=ChatPlanMode.PLAN,
        client_type="ui",
        mcp_server_ids=mcp,
        labels={"team": "infra", "github.repo": "coder/coder"},
        dynamic_tools=tools,
        actor=alice,
    ).chat

    assert chat.title == "Planning"
    assert chat.last_model_config_id == other_model.id
    assert (chat.mode, chat.plan_mode, chat.client_type) == (
        ChatMode.EXPLORE,
        ChatPlanMode.PLAN,
        ChatClientType.UI,
    )
    assert chat.mcp_server_ids == mcp
    assert chat.labels == {"team": "infra", "github.repo": "coder/coder"}
    assert chat.dynamic_tools == tools


def test_sub_agent_chat_inherits_root_binding_client_type_and_context_files(
    chats: Chats,
    q: Querier,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
) -> None:
    workspace = f.workspace(organization_id=org.id, owner_id=alice.id)
    build = f.workspace_build(workspace_id=workspace.id)
    agent = f.workspace_agent(build_id=build.id)
    root = chats.create_chat(
        organization_id=org.id,
        content="root",
        workspace_id=workspace.id,
        build_id=build.id,
        agent_id=agent.id,
        client_type="ui",
        actor=alice,
    ).chat
    context = dump_content([ContextFilePart(path="/repo/AGENTS.md", content="be careful")])
    copied = f.chat_message(chat_id=root.id, role="user", visibility="model", content=context)
    f.chat_message(chat_id=root.id, role="assistant")  # not a context file: not copied
    deleted = f.chat_message(chat_id=root.id, role="user", content=context, deleted=True)

    child = chats.create_chat(parent_chat_id=root.id, content="subtask", actor=CHATD)
    grandchild = chats.create_chat(parent_chat_id=child.chat.id, content="deeper", actor=CHATD)

    for sub in (child.chat, grandchild.chat):
        assert sub.root_chat_id == root.id
        assert sub.owner_id == alice.id
        assert sub.organization_id == org.id
        assert (sub.workspace_id, sub.build_id, sub.agent_id) == (workspace.id, build.id, agent.id)
        assert sub.client_type is ChatClientType.UI
    assert child.chat.parent_chat_id == root.id
    assert grandchild.chat.parent_chat_id == child.chat.id
    roles = [m.role for m in child.messages]
    assert roles == [ChatMessageRole.SYSTEM, ChatMessageRole.USER, ChatMessageRole.USER]
    context_copy = child.messages[1]
    assert context_copy.content == copied.content
    assert context_copy.visibility is ChatMessageVisibility.MODEL
    assert context_copy.id not in (copied.id, deleted.id)
    assert texts(child.messages)[-1] == "subtask"
    # The copy is itself a context-file message of the child, so a grandchild gets it too.
    assert [m.content for m in q.get_chat_context_file_messages(chat_id=grandchild.chat.id)] == [
        copied.content
    ]


def test_sub_agent_chat_cannot_override_inherited_fields(
    chats: Chats, f: Factories, org: db.Organization, alice: Subject, model: Any
) -> None:
    root = chats.create_chat(organization_id=org.id, actor=alice).chat
    other_org = f.organization()
    workspace = f.workspace(organization_id=org.id)
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(parent_chat_id=root.id, workspace_id=workspace.id, actor=alice)
    assert exc.value.field == "workspace_id"
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(parent_chat_id=root.id, organization_id=other_org.id, actor=alice)
    assert exc.value.field == "organization_id"


def test_sub_agent_chat_of_an_archived_parent_is_refused(
    chats: Chats,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    root = chats.create_chat(organization_id=org.id, actor=alice).chat
    chats.archive(root.id, actor=alice)
    before = db_state()
    with pytest.raises(ChatArchived):
        chats.create_chat(parent_chat_id=root.id, content="x", actor=CHATD)
    assert db_state() == before


def test_binding_a_workspace_of_another_organization_is_refused_and_writes_nothing(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    # Alice is a member of the other organization too, so she may read her workspace there:
    # what refuses the binding is that it is not the chat's organization.
    other = f.organization()
    f.organization_member(organization_id=other.id, user_id=alice.id)
    alice = dataclasses.replace(alice, memberships=alice.memberships | {other.id})
    foreign = f.workspace(organization_id=other.id, owner_id=alice.id)
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(
            organization_id=org.id, content="hi", workspace_id=foreign.id, actor=alice
        )
    assert exc.value.field == "workspace_id"
    assert db_state() == before


def test_binding_another_users_workspace_is_refused_and_writes_nothing(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    bob: Subject,
    admin: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    bobs = f.workspace(organization_id=org.id, owner_id=bob.id)
    before = db_state()
    with pytest.raises(NotAuthorized):
        chats.create_chat(organization_id=org.id, content="hi", workspace_id=bobs.id, actor=alice)
    assert db_state() == before
    # Someone with rights on every workspace (the site owner) may bind it.
    created = chats.create_chat(organization_id=org.id, workspace_id=bobs.id, actor=admin)
    assert created.chat.workspace_id == bobs.id


def test_a_build_of_another_workspace_is_refused(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    workspace = f.workspace(organization_id=org.id, owner_id=alice.id)
    other_build = f.workspace_build(workspace_id=f.workspace(organization_id=org.id).id)
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(
            organization_id=org.id,
            workspace_id=workspace.id,
            build_id=other_build.id,
            actor=alice,
        )
    assert exc.value.field == "build_id"
    assert db_state() == before


BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"labels": {"-starts-with-dash": "x"}}, "labels"),
    ({"labels": {f"k{i}": "v" for i in range(51)}}, "labels"),
    ({"labels": {"ok": ""}}, "labels"),
    ({"content": "   "}, "content"),
    ({"content": [{"type": "text"}]}, "content"),
    ({"content": [{"type": "tool-call", "tool_call_id": "1", "tool_name": "x"}]}, "content"),
    ({"mode": "sideways"}, "mode"),
    ({"client_type": "cli"}, "client_type"),
    ({"dynamic_tools": [{"description": "no name"}]}, "dynamic_tools"),
    ({"dynamic_tools": [{"name": "a"}, {"name": "a"}]}, "dynamic_tools"),
    ({"title": ""}, "title"),
    ({"organization_id": None}, "organization_id"),
]


def test_bad_input_is_refused_before_anything_is_written(
    chats: Chats,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    before = db_state()
    for bad, field in BAD_INPUTS:
        kwargs: dict[str, Any] = {"organization_id": org.id, "content": "hi", **bad}
        with pytest.raises(InvalidInput) as exc:
            chats.create_chat(actor=alice, **kwargs)
        assert exc.value.field == field, bad
    assert db_state() == before


def test_a_disabled_or_deleted_model_is_refused(
    chats: Chats,
    f: Factories,
    org: db.Organization,
    alice: Subject,
    model: Any,
    db_state: Callable[[], State],
) -> None:
    disabled = f.chat_model_config(enabled=False)
    deleted = f.chat_model_config(deleted=True)
    before = db_state()
    for bad in (disabled.id, deleted.id):
        with pytest.raises(InvalidInput) as exc:
            chats.create_chat(organization_id=org.id, model_config_id=bad, actor=alice)
        assert exc.value.field == "model_config_id"
    assert db_state() == before


def test_without_a_default_model_a_model_must_be_named(
    chats: Chats, org: db.Organization, alice: Subject, db_state: Callable[[], State]
) -> None:
    before = db_state()
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(organization_id=org.id, content="hi", actor=alice)
    assert exc.value.field == "model_config_id"
    assert db_state() == before


def test_a_system_actor_must_name_the_owner(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    with pytest.raises(InvalidInput) as exc:
        chats.create_chat(organization_id=org.id, actor=CHATD)
    assert exc.value.field == "owner_id"
    chat = chats.create_chat(organization_id=org.id, owner_id=alice.id, actor=CHATD).chat
    assert chat.owner_id == alice.id


def test_user_content_parts_are_stored_as_version_one(
    chats: Chats, org: db.Organization, alice: Subject, model: Any
) -> None:
    upload = chats.upload_file(
        organization_id=org.id, name="a.png", mimetype="image/png", data=b"png", actor=alice
    )
    file_id = str(upload.id)  # a message may cite only files that exist and alice may read
    created = chats.create_chat(
        organization_id=org.id,
        content=[
            TextPart(text="see"),
            {"type": "file", "file_id": file_id, "media_type": "image/png"},
        ],
        actor=alice,
    )
    assert created.messages[-1].content == [
        {"type": "text", "text": "see"},
        {"type": "file", "file_id": file_id, "media_type": "image/png"},
    ]
