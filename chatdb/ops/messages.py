"""Message workflows: send (admit, queue or interrupt), promote queued, edit, tool results.

State machine (SPEC 5 and the seeds): a chat is *idle* in waiting, completed, error and paused
(a new message is admitted and the chat becomes pending) and *busy* in pending, running and
requires_action. Admitting a message while a worker runs the chat sets it pending with no
worker: the worker's next heartbeat no longer returns it, which is its signal to stop (the
interrupt), and the next acquisition runs the chat with the new message. A chat waiting in
requires_action has dynamic tool calls without results; admitting a user message there would
orphan them, so interrupting or promoting into it is refused (Conflict) — submit the tool
results, or queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from pydantic import JsonValue, TypeAdapter, ValidationError

from chatdb.authz import Subject
from chatdb.content import (
    Part,
    ToolCallPart,
    ToolResultPart,
    dump_content,
    parse_content,
    pending_dynamic_tool_call_ids,
    tool_calls,
    tool_results,
)
from chatdb.db import (
    Chat,
    ChatMessage,
    ChatMessageRole,
    ChatQueuedMessage,
    ChatStatus,
)
from chatdb.errors import Conflict, InvalidInput, NotFound
from chatdb.events import model as ev
from chatdb.ops._base import (
    BUSY_STATUSES,
    NewMessage,
    Tx,
    UserContent,
    Workflows,
    parse_user_content,
    person_id,
    resolve_actor,
)
from chatdb.ops.chats import dynamic_tool_names
from chatdb.validation import BusyBehavior, parse_busy_behavior, validate_uuid_list

_JSON = TypeAdapter(JsonValue)

AUTO_PROMOTE_STATUSES = frozenset({ChatStatus.WAITING, ChatStatus.COMPLETED})
"""Where a finished run admits the next queued message by itself. A chat that ended in error
or was paused keeps its queue until someone sends or promotes (it should not fire the next
message into the same failure, or restart what a user stopped)."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What ``send_message`` did: ``message`` when admitted, ``queued`` when queued.

    ``promoted`` is the older queued message admitted instead when the new one had to queue
    behind it (delivery is FIFO: an idle chat with a queue takes the queue's head first).
    """

    chat: Chat
    message: ChatMessage | None
    queued: ChatQueuedMessage | None
    promoted: PromotedMessage | None = None

    @property
    def was_queued(self) -> bool:
        return self.queued is not None


@dataclass(frozen=True, slots=True)
class PromotedMessage:
    """A queued message admitted into the conversation (the queued row is gone)."""

    chat: Chat
    message: ChatMessage
    queued_id: int


@dataclass(frozen=True, slots=True)
class EditedMessage:
    """The replacement message; the edited one and everything after it are soft-deleted."""

    chat: Chat
    message: ChatMessage
    replaced_id: int


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A client's result for one dynamic tool call."""

    tool_call_id: str
    result: JsonValue = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class SubmittedToolResults:
    """The persisted tool messages (one per call, in call order) and the pending chat."""

    chat: Chat
    messages: list[ChatMessage]


def _tool_results(results: object) -> list[ToolResult]:
    """Submitted results as ToolResult, checked: non-empty, one per call id."""
    if isinstance(results, str | bytes) or not isinstance(results, Sequence) or not results:
        raise InvalidInput("results must be a non-empty list of tool results", field="results")
    out: list[ToolResult] = []
    seen: set[str] = set()
    for item in results:
        if isinstance(item, ToolResultPart):
            item = ToolResult(item.tool_call_id, item.result, item.is_error)
        elif isinstance(item, Mapping):
            item = ToolResult(
                item.get("tool_call_id"),  # type: ignore[arg-type]  # checked below
                item.get("result"),
                item.get("is_error", False),
            )
        if not isinstance(item, ToolResult):
            raise InvalidInput("each tool result must be an object", field="results")
        if not isinstance(item.tool_call_id, str) or not item.tool_call_id:
            raise InvalidInput("each tool result needs a tool_call_id", field="results")
        if not isinstance(item.is_error, bool):
            raise InvalidInput("is_error must be a boolean", field="results")
        try:
            _JSON.validate_python(item.result)
        except ValidationError:
            raise InvalidInput(
                f"result of {item.tool_call_id!r} is not JSON", field="results"
            ) from None
        if item.tool_call_id in seen:
            raise InvalidInput(f"tool call {item.tool_call_id!r} answered twice", field="results")
        seen.add(item.tool_call_id)
        out.append(item)
    return out


def _queued_parts(queued: ChatQueuedMessage) -> list[Part]:
    """A queued row's parts (version 1, or a legacy version 0 user value), held to the rules
    of a sent message: text and file parts only, not blank (else InvalidInput)."""
    try:
        parts = parse_content(1, queued.content, ChatMessageRole.USER)
    except InvalidInput:
        parts = parse_content(0, queued.content, ChatMessageRole.USER)
    return parse_user_content(parts)


class Messaging(Workflows):
    """Sending, queueing, promoting and editing messages, and answering dynamic tool calls."""

    def send_message(
        self,
        chat_id: UUID,
        content: UserContent,
        *,
        model_config_id: UUID | None = None,
        busy_behavior: BusyBehavior | str = BusyBehavior.QUEUE,
        mcp_server_ids: Sequence[UUID] | None = None,
        created_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> SentMessage:
        """Send a user message: admitted when the chat is idle, else queued or interrupting.

        Admitted: inserted with the effective model (``model_config_id``, else the chat's),
        which becomes the chat's ``last_model_config_id`` in the same statement, and the chat
        becomes pending. Busy + ``queue``: stored in the queue with the effective model, the
        chat is untouched. Busy + ``interrupt``: admitted as above (see the module doc);
        refused (Conflict) while the chat waits for tool results. Archived: ChatArchived.
        ``created_by`` defaults to the actor when it is a person. ``mcp_server_ids`` (None:
        no change) replaces the chat's MCP server selection in the same transaction, whether
        the message is admitted or queued (the selection is the chat's, like its model).

        Delivery is FIFO: a message never overtakes an older queued one. When the chat would
        admit (idle, or interrupting) but its queue is not empty, the new message is queued
        and the queue's head is admitted instead, in the same transaction (``promoted``).
        """
        subject = resolve_actor(actor)
        parts = parse_user_content(content)
        behavior = parse_busy_behavior(busy_behavior)
        servers = (
            None if mcp_server_ids is None else validate_uuid_list(mcp_server_ids, "mcp_server_ids")
        )
        author = created_by if created_by is not None else person_id(subject)

        def body(tx: Tx) -> SentMessage:
            chat = tx.lock_live_chat(chat_id)
            model = (
                tx.require_model(model_config_id)
                if model_config_id is not None
                else chat.last_model_config_id
            )
            tx.link_cited_files(chat, parts)
            chat = tx.select_mcp_servers(chat, servers)
            if chat.status in BUSY_STATUSES and behavior is BusyBehavior.QUEUE:
                queued = tx.q.insert_chat_queued_message(
                    chat_id=chat.id, content=dump_content(parts), model_config_id=model
                )
                tx.emit(ev.queue_changed(chat, added=queued.id))
                return SentMessage(chat, None, queued)
            if chat.status is ChatStatus.REQUIRES_ACTION:
                raise Conflict(
                    f"chat {chat.id} waits for dynamic tool results; submit them or queue"
                )
            head = self._take_head(tx, chat)
            if head is None:
                message = self._admit(tx, chat, parts, model, author)
                return SentMessage(tx.set_pending(chat.id), message, None)
            queued = tx.q.insert_chat_queued_message(
                chat_id=chat.id, content=dump_content(parts), model_config_id=model
            )
            tx.emit(ev.queue_changed(chat, added=queued.id))
            promoted = self._promote(tx, chat, *head)
            return SentMessage(promoted.chat, None, queued, promoted)

        return self._run(subject, body)

    def promote_queued(
        self,
        chat_id: UUID,
        queued_id: int | None = None,
        *,
        mcp_server_ids: Sequence[UUID] | None = None,
        actor: Subject | None = None,
    ) -> PromotedMessage:
        """Admit a queued message now (the oldest when ``queued_id`` is None).

        It runs with its own stored model; a legacy NULL or an unusable (missing, disabled,
        deleted) model falls back to the chat's current one, so the message is never dropped.
        A running chat is interrupted (module doc); a chat in requires_action refuses
        (Conflict); NotFound when the queue has no such message; archived: ChatArchived.
        ``mcp_server_ids`` (None: no change) replaces the chat's MCP server selection in the
        same transaction. Undeliverable rows at the head are quarantined on the way
        (:meth:`auto_promote`); a chosen ``queued_id`` whose content is undeliverable is
        refused (InvalidInput).
        """
        servers = (
            None if mcp_server_ids is None else validate_uuid_list(mcp_server_ids, "mcp_server_ids")
        )

        def body(tx: Tx) -> PromotedMessage | None:
            chat = tx.lock_live_chat(chat_id)
            if chat.status is ChatStatus.REQUIRES_ACTION:
                raise Conflict(f"chat {chat.id} waits for dynamic tool results")
            if queued_id is None:
                head = self._take_head(tx, chat)
                if head is None:
                    return None
                chat = tx.select_mcp_servers(chat, servers)
                return self._promote(tx, chat, *head)
            queue = tx.q.get_chat_queued_messages(chat_id=chat.id)
            chosen = next((row for row in queue if row.id == queued_id), None)
            if chosen is None:
                raise NotFound("queued message", f"{queued_id} in chat {chat.id}")
            parts = _queued_parts(chosen)
            tx.q.delete_chat_queued_message(id=chosen.id, chat_id=chat.id)
            chat = tx.select_mcp_servers(chat, servers)
            return self._promote(tx, chat, chosen, parts)

        # An empty queue is refused after the commit, so quarantined rows stay recorded.
        promoted = self._run(actor, body)
        if promoted is None:
            raise NotFound("queued message", f"the queue of chat {chat_id} is empty")
        return promoted

    def auto_promote(
        self, chat_id: UUID, *, actor: Subject | None = None
    ) -> PromotedMessage | None:
        """After a run ends: admit the oldest queued message if the chat is waiting/completed.

        Returns None when the chat is busy, ended in error or paused, or the queue is empty.
        Same model rules as :meth:`promote_queued`. Archived: ChatArchived. A queued row that
        cannot be delivered (its content is not a user message) is moved to the quarantine
        with the reason (``GetChatQuarantinedQueuedMessages``) and the next one is taken, so
        one bad row never blocks the queue.
        """

        def body(tx: Tx) -> PromotedMessage | None:
            chat = tx.lock_live_chat(chat_id)
            if chat.status not in AUTO_PROMOTE_STATUSES:
                return None
            head = self._take_head(tx, chat)
            return None if head is None else self._promote(tx, chat, *head)

        return self._run(actor, body)

    def edit_message(
        self,
        message_id: int,
        content: UserContent,
        *,
        created_by: UUID | None = None,
        actor: Subject | None = None,
    ) -> EditedMessage:
        """Replace a user message: it and every later message are soft-deleted (their usage
        and cost stay for accounting), the new one is inserted and the chat becomes pending.

        Only user messages can be edited (InvalidInput); a deleted or unknown message is
        NotFound; archived: ChatArchived. ``created_by`` defaults to the acting person, else
        the original author.
        """
        subject = resolve_actor(actor)
        parts = parse_user_content(content)
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise InvalidInput("message_id must be an integer", field="message_id")

        def body(tx: Tx) -> EditedMessage:
            chat_id = tx.q.get_chat_message_by_id(id=message_id).chat_id
            chat = tx.lock_live_chat(chat_id)
            # Re-read under the lock: a concurrent edit may have deleted it meanwhile.
            original = tx.q.get_chat_message_by_id(id=message_id)
            if original.role is not ChatMessageRole.USER:
                raise InvalidInput(
                    f"only user messages can be edited, message {message_id} is "
                    f"{original.role.value}",
                    field="message_id",
                )
            # The chat's messages with id > original.id - 1: the original and all after it.
            tx.q.soft_delete_chat_messages_after_id(chat_id=chat.id, after_id=original.id - 1)
            tx.emit(ev.messages_edited(chat, original.id))
            author = created_by if created_by is not None else person_id(subject)
            if author is None:
                author = original.created_by
            tx.link_cited_files(chat, parts)
            message = self._admit(tx, chat, parts, chat.last_model_config_id, author)
            return EditedMessage(tx.set_pending(chat.id), message, original.id)

        return self._run(subject, body)

    def submit_tool_results(
        self,
        chat_id: UUID,
        results: Sequence[ToolResult | ToolResultPart | Mapping[str, object]],
        *,
        actor: Subject | None = None,
    ) -> SubmittedToolResults:
        """Persist a client's results for the pending dynamic tool calls and resume the chat.

        Only in requires_action (else Conflict). The submitted ``tool_call_id`` set must equal
        the calls of the last assistant message to the chat's dynamic tools that have no
        result yet (else InvalidInput naming the missing and unexpected ids). One tool message
        per call, in call order; the chat becomes pending. The chat row lock makes the first
        of two concurrent submissions win: the second then sees pending and gets Conflict.
        """
        submitted = _tool_results(results)

        def body(tx: Tx) -> SubmittedToolResults:
            chat = tx.lock_live_chat(chat_id)
            if chat.status is not ChatStatus.REQUIRES_ACTION:
                raise Conflict(
                    f"chat {chat.id} is {chat.status.value}, not waiting for tool results"
                )
            calls = self._pending_calls(tx, chat)
            by_id = {r.tool_call_id: r for r in submitted}
            missing = [c.tool_call_id for c in calls if c.tool_call_id not in by_id]
            extra = sorted(set(by_id) - {c.tool_call_id for c in calls})
            if missing or extra:
                raise InvalidInput(
                    "submitted tool results must answer exactly the pending dynamic tool calls"
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                    + (f"; unexpected: {', '.join(extra)}" if extra else ""),
                    field="results",
                )
            batch = [
                NewMessage.of_parts(
                    ChatMessageRole.TOOL,
                    [
                        ToolResultPart(
                            tool_call_id=call.tool_call_id,
                            tool_name=call.tool_name,
                            result=by_id[call.tool_call_id].result,
                            is_error=by_id[call.tool_call_id].is_error,
                        )
                    ],
                    model_config_id=chat.last_model_config_id,
                )
                for call in calls
            ]
            messages = tx.insert_messages(chat.id, batch)
            return SubmittedToolResults(tx.set_pending(chat.id), messages)

        return self._run(actor, body)

    # ---- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _pending_calls(tx: Tx, chat: Chat) -> list[ToolCallPart]:
        """The last assistant message's dynamic tool calls that no tool message answered."""
        try:
            assistant = tx.q.get_last_chat_message_by_role(
                chat_id=chat.id, role=ChatMessageRole.ASSISTANT
            )
        except NotFound:
            raise Conflict(f"chat {chat.id} has no assistant message awaiting results") from None
        parts = parse_content(assistant.content_version, assistant.content, assistant.role)
        answered = {
            r.tool_call_id
            for m in tx.q.get_chat_messages_for_prompt_by_chat_id(chat_id=chat.id)
            if m.id > assistant.id and m.role is ChatMessageRole.TOOL
            for r in tool_results(parse_content(m.content_version, m.content, m.role))
        }
        pending = pending_dynamic_tool_call_ids(
            parts, dynamic_tool_names(chat.dynamic_tools), answered
        )
        calls = {c.tool_call_id: c for c in tool_calls(parts)}
        return [calls[i] for i in pending]

    @staticmethod
    def _admit(
        tx: Tx, chat: Chat, parts: Sequence[Part], model: UUID, author: UUID | None
    ) -> ChatMessage:
        message = NewMessage.of_parts(
            ChatMessageRole.USER, parts, model_config_id=model, created_by=author
        )
        return tx.insert_messages(chat.id, [message])[0]

    @staticmethod
    def _take_head(tx: Tx, chat: Chat) -> tuple[ChatQueuedMessage, list[Part]] | None:
        """Remove the oldest deliverable queued message and return it with its parts.

        Rows before it whose content is not a user message are removed too and recorded in
        the quarantine with the reason. Each turn removes a row, so this ends with the queue.
        The caller holds the chat row lock, which every queue change in the workflows takes.
        """
        while True:
            try:
                queued = tx.q.pop_next_queued_message(chat_id=chat.id)
            except NotFound:
                return None
            try:
                return queued, _queued_parts(queued)
            except InvalidInput as exc:
                tx.q.quarantine_chat_queued_message(
                    id=queued.id,
                    chat_id=chat.id,
                    content=queued.content,
                    model_config_id=queued.model_config_id,
                    queued_at=queued.created_at,
                    reason=f"undeliverable queued message: {exc}",
                )
                tx.emit(ev.queue_changed(chat, removed=queued.id))

    def _promote(
        self, tx: Tx, chat: Chat, queued: ChatQueuedMessage, parts: Sequence[Part]
    ) -> PromotedMessage:
        """Admit a queued row (already removed) with its own model, else the chat's.

        Queued rows do not record who sent them: the message is attributed to the chat owner
        when the owner (or a system service acting for it) promotes, else to nobody, since
        created_by is always the actor or a user a system service acts for (is_actor[]).
        """
        model = (
            queued.model_config_id
            if tx.model_usable(queued.model_config_id) and queued.model_config_id is not None
            else chat.last_model_config_id
        )
        tx.emit(ev.queue_changed(chat, removed=queued.id))
        tx.link_cited_files(chat, parts)
        author = chat.owner_id if tx.actor.is_system or tx.actor.id == chat.owner_id else None
        message = self._admit(tx, chat, parts, model, author)
        return PromotedMessage(tx.set_pending(chat.id), message, queued.id)


__all__ = [
    "AUTO_PROMOTE_STATUSES",
    "EditedMessage",
    "Messaging",
    "PromotedMessage",
    "SentMessage",
    "SubmittedToolResults",
    "ToolResult",
]
