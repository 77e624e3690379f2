"""Chat lifecycle workflows: create, archive/unarchive, pins, read watermark, title and labels."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from chatdb.authz import Action, AuthorizerLike, Object, Subject
from chatdb.authz.params import check_json
from chatdb.content import Part
from chatdb.db import (
    JSON,
    Chat,
    ChatClientType,
    ChatMessage,
    ChatMessageRole,
    ChatMessageVisibility,
    ChatMode,
    ChatPlanMode,
    ChatStatus,
    GetChatStartSettingsRow,
    Querier,
)
from chatdb.errors import ChatArchived, Conflict, InvalidInput, NotAuthorized, NotFound
from chatdb.events import model as ev
from chatdb.ops._base import (
    NewMessage,
    Tx,
    UserContent,
    Workflows,
    parse_user_content,
    person_id,
    resolve_actor,
    text_content,
)
from chatdb.store import Store
from chatdb.validation import (
    parse_enum,
    validate_labels,
    validate_limit,
    validate_pin_position,
    validate_uuid_list,
)

DEFAULT_TITLE = "New Chat"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChatListEntry:
    """One chat of the list: the chat, whether it has unread assistant messages, and (with
    ``include_children``) its sub-agent chats, newest first, each with its own."""

    chats: Chat
    has_unread: bool
    children: tuple[ChatListEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class BoundWorkspace:
    """The workspace a new chat is bound to (what the awareness message may mention)."""

    id: UUID
    name: str


def default_workspace_awareness(workspace: BoundWorkspace) -> str:
    """The system message telling the model which workspace its tools act in."""
    return (
        f'This chat is bound to the workspace "{workspace.name}" (id {workspace.id}). '
        "Commands you run and files you read or write are in that workspace."
    )


@dataclass(frozen=True, slots=True)
class CreatedChat:
    """The inserted chat and its initial messages, in insertion order."""

    chat: Chat
    messages: list[ChatMessage]


@dataclass(frozen=True, slots=True)
class _CreateInput:
    """create_chat's arguments after the checks that need no database."""

    parts: list[Part] | None
    title: str
    labels: dict[str, str] | None
    mode: ChatMode | None
    plan_mode: ChatPlanMode | None
    client_type: ChatClientType | None
    dynamic_tools: list[dict[str, object]] | None
    system_prompt: str | None
    mcp_server_ids: list[UUID] | None


def validate_dynamic_tools(tools: object) -> list[dict[str, object]]:
    """Client-executed tool declarations: a list of objects with unique, non-empty names."""
    if isinstance(tools, str | bytes) or not isinstance(tools, Sequence):
        raise InvalidInput(
            "dynamic_tools must be a list of tool declarations", field="dynamic_tools"
        )
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for tool in tools:
        if not isinstance(tool, Mapping):
            raise InvalidInput("each dynamic tool must be an object", field="dynamic_tools")
        name = tool.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("each dynamic tool needs a non-empty name", field="dynamic_tools")
        if name in seen:
            raise InvalidInput(f"dynamic tool {name!r} is declared twice", field="dynamic_tools")
        seen.add(name)
        out.append({str(k): v for k, v in tool.items()})
    check_json("dynamic_tools", out)  # JSON only, not nested without bound, valid text
    return out


def dynamic_tool_names(tools: JSON | None) -> set[str]:
    """Names of a chat's stored dynamic tools (nothing for NULL or unexpected shapes)."""
    if not isinstance(tools, list):
        return set()
    return {t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)}


def _title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("title must be a non-empty string", field="title")
    return title


class ChatLifecycle(Workflows):
    """Creating chats and changing what the sidebar shows about them.

    ``default_system_prompt`` is the service's built-in prompt: it leads the deployment system
    prompt when the site setting ``GetChatIncludeDefaultSystemPrompt`` is on, followed by the
    site's custom prompt (``GetChatSystemPrompt``). ``workspace_awareness`` renders the system
    message added when a chat is bound to a workspace.
    """

    def __init__(
        self,
        store: Store[Querier],
        *,
        authorizer: AuthorizerLike | None = None,
        default_system_prompt: str = "",
        workspace_awareness: Callable[[BoundWorkspace], str] = default_workspace_awareness,
        events: bool = True,
    ) -> None:
        super().__init__(store, authorizer=authorizer, events=events)
        self.default_system_prompt = default_system_prompt
        self.workspace_awareness = workspace_awareness

    # ---- create ---------------------------------------------------------------------------

    def create_chat(
        self,
        *,
        organization_id: UUID | None = None,
        owner_id: UUID | None = None,
        content: UserContent | None = None,
        title: str = DEFAULT_TITLE,
        model_config_id: UUID | None = None,
        system_prompt: str | None = None,
        workspace_id: UUID | None = None,
        build_id: UUID | None = None,
        agent_id: UUID | None = None,
        parent_chat_id: UUID | None = None,
        mode: ChatMode | str | None = None,
        plan_mode: ChatPlanMode | str | None = None,
        client_type: ChatClientType | str | None = None,
        mcp_server_ids: Sequence[UUID] | None = None,
        labels: Mapping[str, str] | None = None,
        dynamic_tools: Sequence[Mapping[str, object]] | None = None,
        created_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> CreatedChat:
        """Insert a chat in its final state and its initial messages in one batch.

        With ``content`` the chat starts ``pending`` (a worker will run it), else ``waiting``.
        Messages, in order: the deployment system prompt, ``system_prompt`` (role system,
        visible to the model only), the workspace awareness message (when bound), the
        parent's context-file messages (sub-agent chats), the first user message.

        A sub-agent chat (``parent_chat_id``) takes owner, organization, root, client type and
        workspace/build/agent binding from its parent; passing them is refused. The owner
        defaults to the actor (a system actor must name it). Binding a workspace of another
        organization, or a build/agent not of that workspace, is refused (InvalidInput). The
        model defaults to the parent's model, else the deployment default.
        """
        subject = resolve_actor(actor)
        args = _CreateInput(
            parts=None if content is None else parse_user_content(content),
            title=_title(title),
            labels=None if labels is None else validate_labels(labels),
            mode=None if mode is None else parse_enum(ChatMode, mode, "mode"),
            plan_mode=None
            if plan_mode is None
            else parse_enum(ChatPlanMode, plan_mode, "plan_mode"),
            client_type=(
                None
                if client_type is None
                else parse_enum(ChatClientType, client_type, "client_type")
            ),
            dynamic_tools=None if dynamic_tools is None else validate_dynamic_tools(dynamic_tools),
            system_prompt=system_prompt if system_prompt and system_prompt.strip() else None,
            mcp_server_ids=(
                None
                if mcp_server_ids is None
                else validate_uuid_list(mcp_server_ids, "mcp_server_ids")
            ),
        )
        if parent_chat_id is not None:
            inherited = {
                "workspace_id": workspace_id,
                "build_id": build_id,
                "agent_id": agent_id,
                "client_type": args.client_type,
            }
            for field, value in inherited.items():
                if value is not None:
                    raise InvalidInput(
                        f"a sub-agent chat inherits {field} from its parent", field=field
                    )
        elif workspace_id is None and (build_id is not None or agent_id is not None):
            raise InvalidInput("build_id and agent_id need a workspace_id", field="workspace_id")
        elif organization_id is None:
            raise InvalidInput("organization_id is required", field="organization_id")
        if owner_id is None and parent_chat_id is None and subject.is_system:
            raise InvalidInput("a system actor must name the chat's owner", field="owner_id")
        creator = created_by if created_by is not None else person_id(subject)

        def body(tx: Tx) -> CreatedChat:
            parent: Chat | None = None
            root_id: UUID | None = None
            owner, org = owner_id, organization_id
            ws, build, agent = workspace_id, build_id, agent_id
            client = args.client_type or ChatClientType.API
            if parent_chat_id is not None:
                parent = self._lock_parent(tx, parent_chat_id)
                for field, given, own in (
                    ("owner_id", owner, parent.owner_id),
                    ("organization_id", org, parent.organization_id),
                ):
                    if given is not None and given != own:
                        raise InvalidInput(
                            f"a sub-agent chat has its parent's {field}", field=field
                        )
                owner, org = parent.owner_id, parent.organization_id
                ws, build, agent = parent.workspace_id, parent.build_id, parent.agent_id
                root_id = parent.root_chat_id or parent.id
                client = parent.client_type
            if owner is None:
                owner = subject.id
            assert org is not None  # required above for a root chat
            workspace = self._bound_workspace(tx, owner, org, ws, build, agent, inherited=parent)
            # The model, its fallback and the system prompts in one statement.
            inherited_model = parent.last_model_config_id if parent is not None else None
            start = tx.q.get_chat_start_settings(
                model_config_id=model_config_id if model_config_id is not None else inherited_model
            )
            model = self._pick_model(start, model_config_id, parent)
            chat = tx.q.insert_chat(
                owner_id=owner,
                organization_id=org,
                workspace_id=ws,
                build_id=build,
                agent_id=agent,
                parent_chat_id=parent.id if parent else None,
                root_chat_id=root_id,
                last_model_config_id=model,
                title=args.title,
                status=ChatStatus.PENDING if args.parts else ChatStatus.WAITING,
                mode=args.mode,
                plan_mode=args.plan_mode,
                client_type=client,
                mcp_server_ids=args.mcp_server_ids,
                labels=args.labels,
                dynamic_tools=args.dynamic_tools,
            )
            tx.emit(ev.chat_created(chat, chat.status))
            if args.parts:
                tx.link_cited_files(chat, args.parts)
            batch = self._initial_messages(tx, chat, args, workspace, parent, creator, start)
            return CreatedChat(chat, tx.insert_messages(chat.id, batch))

        return self._run(subject, body)

    def _lock_parent(self, tx: Tx, parent_chat_id: UUID) -> Chat:
        """Lock the root then the parent, so archiving the family waits for the new child.

        ArchiveChatByID runs after its own lock on the root, so once this transaction commits
        its fresh snapshot sees the child; if the archive came first, the parent reads
        archived here and the child is refused.
        """
        try:
            parent = tx.q.get_chat_by_id(id=parent_chat_id)
        except NotFound:
            raise NotFound("parent chat", str(parent_chat_id)) from None
        if parent.root_chat_id is not None:
            root = tx.q.get_chat_by_id_for_update(id=parent.root_chat_id)
            if root.archived:
                raise ChatArchived(root.id)
        parent = tx.q.get_chat_by_id_for_update(id=parent_chat_id)
        if parent.archived:
            raise ChatArchived(parent.id)
        return parent

    def _bound_workspace(
        self,
        tx: Tx,
        owner_id: UUID,
        organization_id: UUID,
        workspace_id: UUID | None,
        build_id: UUID | None,
        agent_id: UUID | None,
        *,
        inherited: Chat | None,
    ) -> BoundWorkspace | None:
        if workspace_id is None:
            return None
        try:
            row = tx.q.get_workspace_for_chat_binding(
                owner_id=owner_id,
                organization_id=organization_id,
                workspace_id=workspace_id,
                build_id=build_id,
                agent_id=agent_id,
            )
        except NotFound:
            if inherited is not None:
                return None  # the parent's binding is copied as is; only new input is refused
            raise InvalidInput(
                f"workspace {workspace_id} does not exist or is not in organization "
                f"{organization_id}",
                field="workspace_id",
            ) from None
        if (
            inherited is None
            and not row.owned_by_chat_owner
            and not tx.authorizer.allowed(
                tx.actor,
                Action.READ,
                Object.workspace(row.id, row.owner_id, organization_id),
            )
        ):
            # A chat works inside its workspace: binding someone else's needs rights on it.
            raise NotAuthorized(
                f"workspace {workspace_id} belongs to another user", object=f"workspace:{row.id}"
            )
        if inherited is None and not row.build_matches:
            raise InvalidInput(
                f"build {build_id} is not a build of workspace {workspace_id}", field="build_id"
            )
        if inherited is None and not row.agent_matches:
            raise InvalidInput(
                f"agent {agent_id} is not an agent of that workspace build", field="agent_id"
            )
        return BoundWorkspace(row.id, row.name)

    @staticmethod
    def _pick_model(
        start: GetChatStartSettingsRow, model_config_id: UUID | None, parent: Chat | None
    ) -> UUID:
        """The named model (refused unless usable), else the parent's if usable, else the
        default; ``start.model_usable`` is about the named model, else the parent's."""
        if model_config_id is not None:
            if not start.model_usable:
                raise InvalidInput(
                    f"model config {model_config_id} does not exist, is disabled or is deleted",
                    field="model_config_id",
                )
            return model_config_id
        if parent is not None and start.model_usable:
            return parent.last_model_config_id
        if start.default_model_config_id is None:
            raise InvalidInput(
                "no model_config_id given and no default model is configured",
                field="model_config_id",
            )
        return start.default_model_config_id

    def _deployment_prompt(self, settings: GetChatStartSettingsRow) -> str:
        """The built-in prompt (when included) then the site's custom one.

        When the stored settings cannot be read (the include flag is not a boolean) the chat
        still starts, with the built-in default alone (seed: "falling back to the built-in
        default on DB errors"). One statement reads both settings and cannot fail on them.
        """
        builtin = self.default_system_prompt.strip()
        if settings.include_default_system_prompt is None:
            logger.warning("chat system prompt settings unreadable, using the built-in default")
            return builtin
        custom = settings.chat_system_prompt.strip()
        include = builtin if settings.include_default_system_prompt else ""
        return "\n\n".join(p for p in (include, custom) if p)

    def _initial_messages(
        self,
        tx: Tx,
        chat: Chat,
        args: _CreateInput,
        workspace: BoundWorkspace | None,
        parent: Chat | None,
        creator: UUID | None,
        start: GetChatStartSettingsRow,
    ) -> list[NewMessage]:
        model = chat.last_model_config_id
        system = ChatMessageRole.SYSTEM
        hidden = ChatMessageVisibility.MODEL
        batch: list[NewMessage] = []
        if deployment := self._deployment_prompt(start):
            batch.append(
                NewMessage(
                    system, text_content(deployment), visibility=hidden, model_config_id=model
                )
            )
        if args.system_prompt is not None:
            batch.append(
                NewMessage(
                    system,
                    text_content(args.system_prompt),
                    visibility=hidden,
                    model_config_id=model,
                )
            )
        if workspace is not None:
            text = self.workspace_awareness(workspace)
            batch.append(
                NewMessage(system, text_content(text), visibility=hidden, model_config_id=model)
            )
        if parent is not None:
            for m in tx.q.get_chat_context_file_messages(chat_id=parent.id):
                batch.append(
                    NewMessage(
                        m.role, m.content, m.content_version, m.visibility, model_config_id=model
                    )
                )
        if args.parts:
            batch.append(
                NewMessage.of_parts(
                    ChatMessageRole.USER, args.parts, model_config_id=model, created_by=creator
                )
            )
        return batch

    # ---- archive ---------------------------------------------------------------------------

    def archive(self, chat_id: UUID, *, actor: Subject | None = None) -> list[Chat]:
        """Archive the chat and all its descendants; returns the affected chats, it first.

        The invariant holds at every depth: an archived chat has no live descendant. A
        sub-agent may be archived without its parent. Archiving unpins (the owner's later pins
        move up, so pins stay numbered 1..n) and stops a running or pending chat (back to
        waiting, worker released: the worker's next heartbeat no longer returns it). Already
        archived: nothing changes (updated_at, the retention clock, is not moved).
        """

        def body(tx: Tx) -> list[Chat]:
            tx.lock_owner_pins(chat_id)
            chat = tx.lock_chat(chat_id)
            if chat.archived:
                return [chat]
            if chat.pin_order > 0:
                tx.q.unpin_chat_by_id(id=chat_id)  # the owner's later pins move up
                tx.emit(ev.pins_changed(chat, 0))
            family = tx.q.archive_chat_by_id(id=chat_id)
            tx.emit(ev.family_archived(family, archived=True))
            return family

        return self._run(actor, body)

    def unarchive(self, chat_id: UUID, *, actor: Subject | None = None) -> list[Chat]:
        """Unarchive the chat and all its descendants; returns the affected chats.

        A child whose parent is archived is refused (Conflict): the child row is locked and
        the parent re-read in the same transaction, so a concurrent archive of the parent
        either sees the child or makes this refusal.
        """

        def body(tx: Tx) -> list[Chat]:
            chat = tx.lock_chat(chat_id)
            if not chat.archived:
                return [chat]
            if chat.parent_chat_id is not None:
                parent = tx.get_chat(chat.parent_chat_id)
                if parent.archived:
                    raise Conflict(
                        f"chat {chat.id} cannot be unarchived while its parent "
                        f"{parent.id} is archived"
                    )
            family = tx.q.unarchive_chat_by_id(id=chat_id)
            tx.emit(ev.family_archived(family, archived=False))
            return family

        return self._run(actor, body)

    # ---- pins ------------------------------------------------------------------------------
    # Every pin change first takes the owner's pin lock (Tx.lock_owner_pins), then the chat
    # row: concurrent pins get distinct positions, the positions stay 1..n, and a pin never
    # renumbers a chat that a concurrent archive has just unpinned.

    def pin(self, chat_id: UUID, *, actor: Subject | None = None) -> Chat:
        """Pin the chat at the end of its owner's pins; pinning a pinned chat changes nothing.

        Archived chats (ChatArchived) and sub-agent chats (InvalidInput) cannot be pinned.
        """

        def body(tx: Tx) -> Chat:
            tx.lock_owner_pins(chat_id)
            chat = self._pinnable(tx, chat_id)
            if chat.pin_order > 0:
                return chat
            tx.q.pin_chat_by_id(id=chat_id)
            pinned = tx.get_chat(chat_id)
            tx.emit(ev.pins_changed(pinned, pinned.pin_order))
            return pinned

        return self._run(actor, body)

    def unpin(self, chat_id: UUID, *, actor: Subject | None = None) -> Chat:
        """Unpin the chat (later pins move up); a no-op when it is not pinned."""

        def body(tx: Tx) -> Chat:
            tx.lock_owner_pins(chat_id)
            chat = tx.lock_chat(chat_id)
            if chat.pin_order == 0:
                return chat
            tx.q.unpin_chat_by_id(id=chat_id)
            tx.emit(ev.pins_changed(chat, 0))
            return tx.get_chat(chat_id)

        return self._run(actor, body)

    def reorder_pin(self, chat_id: UUID, position: int, *, actor: Subject | None = None) -> Chat:
        """Move a pinned chat to ``position`` (≥ 1, clamped to the number of pins).

        A chat that is not pinned is pinned at the end of its owner's pins, whatever the
        position (the seed's handler: "> 0 on an unpinned chat appends to end").
        """
        wanted = validate_pin_position(position, "position")

        def body(tx: Tx) -> Chat:
            tx.lock_owner_pins(chat_id)
            chat = self._pinnable(tx, chat_id)
            if chat.pin_order == 0:
                tx.q.pin_chat_by_id(id=chat_id)
            else:
                tx.q.update_chat_pin_order(id=chat_id, pin_order=wanted)
            moved = tx.get_chat(chat_id)
            tx.emit(ev.pins_changed(moved, moved.pin_order))
            return moved

        return self._run(actor, body)

    @staticmethod
    def _pinnable(tx: Tx, chat_id: UUID) -> Chat:
        chat = tx.lock_live_chat(chat_id)
        if chat.parent_chat_id is not None:
            raise InvalidInput("a sub-agent chat cannot be pinned", field="chat_id")
        return chat

    # ---- workspace binding -----------------------------------------------------------------

    def refresh_workspace_binding(self, chat_id: UUID, *, actor: Subject | None = None) -> Chat:
        """Repair a stale binding: bind the chat to its workspace's latest build and agent.

        The seed's runtime treats the bound build/agent as a cache and, when the bound agent
        is gone or unreachable, re-resolves "the latest build's agent" and persists it. The
        workspace stays; an unchanged binding writes nothing. A chat bound to no workspace is
        a Conflict; a latest build without an agent is NotFound; archived: ChatArchived.
        """

        def body(tx: Tx) -> Chat:
            chat = tx.lock_live_chat(chat_id)
            if chat.workspace_id is None:
                raise Conflict(f"chat {chat.id} is not bound to a workspace")
            try:
                latest = tx.q.get_latest_workspace_agent_for_chat(chat_id=chat.id)
            except NotFound:
                raise NotFound(
                    "workspace agent", f"the latest build of workspace {chat.workspace_id}"
                ) from None
            if (chat.build_id, chat.agent_id) == (latest.build_id, latest.agent_id):
                return chat
            rebound = tx.q.update_chat_build_agent_binding(
                id=chat.id, build_id=latest.build_id, agent_id=latest.agent_id
            )
            tx.emit(ev.chat_updated(rebound))
            return rebound

        return self._run(actor, body)

    # ---- read watermark, title, labels -----------------------------------------------------

    def mark_read(
        self, chat_id: UUID, message_id: int | None = None, *, actor: Subject | None = None
    ) -> Chat:
        """Move the read watermark to ``message_id`` (default: the newest assistant message).

        The watermark only moves forward, so a late "read up to here" from an older stream
        cannot mark newer messages unread again. Archived chats may be marked read.
        """
        if message_id is not None and (
            isinstance(message_id, bool) or not isinstance(message_id, int)
        ):
            raise InvalidInput("message_id must be an integer", field="message_id")

        def body(tx: Tx) -> Chat:
            chat = tx.lock_chat(chat_id)
            if message_id is not None:
                message = tx.q.get_chat_message_by_id(id=message_id)
                if message.chat_id != chat.id:
                    raise InvalidInput(
                        f"message {message_id} is not a message of chat {chat_id}",
                        field="message_id",
                    )
                target = message.id
            else:
                try:
                    target = tx.q.get_last_chat_message_by_role(
                        chat_id=chat_id, role=ChatMessageRole.ASSISTANT
                    ).id
                except NotFound:
                    return chat
            if (chat.last_read_message_id or 0) >= target:
                return chat
            tx.q.update_chat_last_read_message_id(id=chat_id, last_read_message_id=target)
            tx.emit(ev.read_changed(chat, target))
            return tx.get_chat(chat_id)

        return self._run(actor, body)

    def list_chats(
        self,
        *,
        owner_id: UUID | None = None,
        archived: bool | None = False,
        labels: Mapping[str, str] | None = None,
        has_unread: bool | None = None,
        title_query: str | None = None,
        after_id: UUID | None = None,
        limit: int = 50,
        include_children: bool = False,
        actor: Subject | None = None,
    ) -> list[ChatListEntry]:
        """One page of the chat list: root chats the actor may read, pinned first, then newest.

        Pass the last row's chat id as ``after_id`` for the next page. ``archived=None`` lists
        both; ``labels`` matches chats carrying all of them. ``include_children`` embeds each
        root's sub-agent chats at every depth (newest first), filtered by the same
        ``archived`` state and by what the actor may read, as the seed's list does.
        """
        wanted = None if labels is None else validate_labels(labels)
        page = validate_limit(limit)

        def body(tx: Tx) -> list[ChatListEntry]:
            roots = tx.q.get_chats(
                owner_id=owner_id,
                archived=archived,
                label_filter=wanted,
                has_unread=has_unread,
                title_query=title_query,
                after_id=after_id,
                offset=0,
                limit=page,
            )
            below: dict[UUID, list[tuple[Chat, bool]]] = {}
            if include_children:
                seen = {r.chats.id for r in roots}
                frontier = list(seen)
                while frontier:  # one query per level; ``seen`` ends any cycle
                    level = [
                        row
                        for row in tx.q.get_child_chats_by_parent_ids(
                            parent_ids=frontier, archived=archived
                        )
                        if row.chats.id not in seen
                    ]
                    for row in level:
                        seen.add(row.chats.id)
                        parent = row.chats.parent_chat_id
                        assert parent is not None
                        below.setdefault(parent, []).append((row.chats, row.has_unread))
                    frontier = [row.chats.id for row in level]

            def entry(chat: Chat, unread: bool) -> ChatListEntry:
                kids = tuple(entry(c, u) for c, u in below.get(chat.id, ()))
                return ChatListEntry(chat, unread, kids)

            return [entry(r.chats, r.has_unread) for r in roots]

        return self._run(actor, body)

    def update_chat(
        self,
        chat_id: UUID,
        *,
        title: str | None = None,
        labels: Mapping[str, str] | None = None,
        actor: Subject | None = None,
    ) -> Chat:
        """Rename and/or replace the labels (whole map, validated); None keeps the value.

        An archived chat is refused (ChatArchived) and keeps its updated_at, the clock its
        retention runs on.
        """
        new_title = None if title is None else _title(title)
        new_labels = None if labels is None else validate_labels(labels)

        def body(tx: Tx) -> Chat:
            tx.lock_live_chat(chat_id)
            chat = tx.q.update_chat_by_id(id=chat_id, title=new_title, labels=new_labels)
            tx.emit(ev.chat_updated(chat))
            return chat

        return self._run(actor, body)
