"""``chatdb demo`` (``make demo``): one agent session, start to finish, narrated.

It starts a throwaway PostgreSQL (or uses ``$CHATDB_PG_DSN``), migrates a fresh database and
walks through what a chat service does with chatdb, using only the public, authorized API:
the workflows of :mod:`chatdb.ops` and, where no workflow exists, the generated
:class:`~chatdb.authz.wrapper.AuthzQuerier` with an explicit actor. The only writes that skip
authorization are the bootstrap of the organization and its people (the factories of
:mod:`chatdb.testing.factories`: chatdb has no queries for the core tables it borrows).
The LLM and the workspace are simulated: the "agent" is the ``chatd`` system subject writing
assistant messages with token usage, priced with :func:`chatdb.cost.message_cost_micros`.

Everything is cleaned up at the end, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import FrameType
from typing import Any, TextIO
from uuid import UUID, uuid4

import psycopg

from chatdb.authz import (
    CHAT_ACCESS,
    CHATD,
    ORGANIZATION_ADMIN,
    ORGANIZATION_MEMBER,
    OWNER,
    Subject,
)
from chatdb.authz.wrapper import AuthzQuerier
from chatdb.cli import scratch_server
from chatdb.content import TextPart, ToolCallPart, dump_content, parse_content, text_of
from chatdb.cost import ModelPricing, message_cost_micros
from chatdb.db import (
    Chat,
    ChatMessage,
    ChatMessageRole,
    ChatModelConfig,
    ChatStatus,
    GetChatsRow,
    Querier,
)
from chatdb.dbcrypt import Cipher, Ciphers, ensure_active_keys, generate_key
from chatdb.errors import Conflict, NotAuthorized
from chatdb.events import ChatEvents, Event, Kind, Listener, Resync, Subscription, publish
from chatdb.events import model as events
from chatdb.migrate import Migrator
from chatdb.ops import Chats, ProviderConfig, ToolResult
from chatdb.store import Store
from chatdb.testing.factories import Factories
from chatdb.testing.pgserver import ENV_DSN, PgServer

__all__ = ["format_table", "main", "run"]

WIDTH = 96
"""Explanations are wrapped to this many columns."""


# --- presentation ------------------------------------------------------------------------------

_NUMERIC = re.compile(r"[-+]?\$?[0-9][0-9,]*(\.[0-9]+)?( ?[a-z%]{1,3})?")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, indent: str = "  "
) -> list[str]:
    """Rows as aligned text lines; columns whose cells all look numeric are right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    right = [
        bool(cells) and all(_NUMERIC.fullmatch(r[i]) or not r[i] for r in cells)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return (indent + "  ".join(padded)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]


def dollars(micros: int | None, places: int = 6) -> str:
    """Micro-dollars as dollars (``None``: unpriced)."""
    if micros is None:
        return "unpriced"
    return f"${Decimal(micros).scaleb(-6):,.{places}f}"


def price(value: Decimal | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def shorten(text: str, width: int = 58) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


class Transcript:
    """What the demo prints: headings, explanations, tables and timed steps."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.section = 0
        self.tty = bool(getattr(out, "isatty", lambda: False)())

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def title(self, text: str) -> None:
        self.write(text)
        self.write("=" * len(text))

    def heading(self, text: str) -> None:
        self.section += 1
        label = f"{self.section}. {text}"
        self.write()
        self.write(label)
        self.write("-" * len(label))

    def say(self, text: str) -> None:
        """A paragraph, wrapped to the width of the tables."""
        for line in textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False):
            self.write(line)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        for line in format_table(headers, rows):
            self.write(line)

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[Callable[[str], None]]:
        """``text ... done in 0.4 s``; the yielded function shows progress (on a terminal)."""
        started = time.monotonic()
        prefix = f"{text} ..."
        self.out.write(prefix)
        self.out.flush()
        shown = [len(prefix)]

        def progress(note: str) -> None:
            if self.tty:
                line = f"{prefix} {note}"
                self.out.write("\r" + line.ljust(shown[0]))
                self.out.flush()
                shown[0] = max(shown[0], len(line))

        outcome = "failed"
        try:
            yield progress
            outcome = f"done in {time.monotonic() - started:.1f} s"
        finally:
            line = f"{prefix} {outcome}"
            self.out.write(("\r" + line.ljust(shown[0]) if self.tty else " " + outcome) + "\n")
            self.out.flush()


class _MigrationProgress(logging.Handler):
    """Counts the migrations as the migrator logs them."""

    def __init__(self, total: int, show: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.total = total
        self.done = 0
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        self.done += 1
        name = str(record.args[1]) if isinstance(record.args, tuple) else ""
        self.show(f"{self.done}/{self.total} {name}")


# --- the simulated agent -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One assistant step as an LLM would report it."""

    text: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    runtime_ms: int = 0
    tool_calls: list[ToolCallPart] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class People:
    admin: Subject
    alice: Subject
    bob: Subject
    organization_id: UUID


class Session:
    """The narrated agent session over one migrated database."""

    def __init__(
        self,
        t: Transcript,
        store: Store[Querier],
        conn: psycopg.Connection[Any],
        listener: Listener,
    ) -> None:
        self.t = t
        self.store = store
        self.conn = conn
        self.hub = ChatEvents(listener, store)
        self.feed: Subscription | None = None
        self.bobs_feed: Subscription | None = None
        self.chats = Chats(
            store, default_system_prompt="You are a coding agent working in the user's workspace."
        )
        self.worker_id = uuid4()
        self.models: dict[UUID, ChatModelConfig] = {}
        self.costs: list[int] = []

    @contextlib.contextmanager
    def as_(self, actor: Subject) -> Iterator[AuthzQuerier]:
        """The authorized querier acting as ``actor`` (one pooled connection, autocommit)."""
        with self.store.querier() as q:
            yield AuthzQuerier(q, actor=actor)

    def model_name(self, model_id: UUID | None) -> str:
        return self.models[model_id].display_name if model_id in self.models else "?"

    # ---- the story ----------------------------------------------------------------------------

    def run(self) -> None:
        people = self.organization()
        # Alice's client subscribes to her chat list before anything happens to it; the last
        # section shows what it received while the session ran.
        self.feed = self.hub.subscribe_chat_list(owner_id=people.alice.id, actor=people.alice)
        self.bobs_feed = self.hub.subscribe_chat_list(owner_id=people.alice.id, actor=people.bob)
        sonnet, mini = self.configuration(people.admin)
        chat = self.first_chat(people)
        self.agent_run(people, chat, sonnet, mini)
        self.sidebar(people, chat)
        self.refusal(people, chat)
        self.archive(people, chat)
        self.cost(people)
        self.live_events(people, chat)

    def organization(self) -> People:
        t = self.t
        t.heading("An organization and its people")
        t.say("Bootstrap rows (users, organizations, memberships) come from the test factories:")
        t.say("chatdb borrows these core tables and has no queries for them.")
        f = Factories(self.conn)
        org = f.organization(name="acme", display_name="Acme Corp")
        rows = []
        subjects = []
        for username, name, site, org_roles in (
            ("ada", "Ada Admin", (OWNER,), (ORGANIZATION_ADMIN,)),
            ("alice", "Alice Lee", (CHAT_ACCESS,), (ORGANIZATION_MEMBER,)),
            ("bob", "Bob Brown", (CHAT_ACCESS,), (ORGANIZATION_MEMBER,)),
        ):
            user = f.user(
                organization_id=org.id,
                org_roles=list(org_roles),
                username=username,
                name=name,
                email=f"{username}@acme.example",
                rbac_roles=list(site),
            )
            subjects.append(
                Subject(id=user.id, name=username, site_roles=site, org_roles={org.id: org_roles})
            )
            rows.append((username, name, ", ".join(site), ", ".join(org_roles)))
        t.table(["user", "name", "site roles", "roles in acme"], rows)
        t.say("Each person acts as an authz Subject; every call below names its actor.")
        return People(subjects[0], subjects[1], subjects[2], org.id)

    def configuration(self, admin: Subject) -> tuple[ChatModelConfig, ChatModelConfig]:
        t = self.t
        t.heading("Providers and models (deployment configuration, as ada)")
        ciphers = Ciphers(Cipher(generate_key()))
        ensure_active_keys(self.conn, ciphers)
        providers = ProviderConfig(self.store, ciphers=ciphers)
        anthropic = providers.create(
            "anthropic", api_key="sk-ant-demo-0123456789", display_name="Anthropic", actor=admin
        )
        providers.create("openai", api_key="sk-openai-demo-9876543210", actor=admin)
        with self.as_(admin) as q:
            stored = q.get_chat_provider_by_id(id=anthropic.id)
        t.say(
            f"API keys are sealed with AES-256-GCM key {stored.api_key_key_id}: the row holds "
            f"{shorten(stored.api_key, 20)!r}, ProviderConfig reads back {anthropic.api_key!r}."
        )
        specs = [
            ("anthropic", "claude-sonnet-4", "Claude Sonnet 4", True, ("3", "15", "0.30", "3.75")),
            ("openai", "gpt-4.1-mini", "GPT-4.1 mini", False, ("0.40", "1.60", "0.10", None)),
        ]
        configs: list[ChatModelConfig] = []
        with self.as_(admin) as q:
            for provider, model, display, default, prices in specs:
                pricing = ModelPricing(*(None if p is None else Decimal(p) for p in prices))
                config = q.insert_chat_model_config(
                    provider=provider,
                    model=model,
                    display_name=display,
                    created_by=admin.id,
                    updated_by=admin.id,
                    enabled=True,
                    is_default=default,
                    context_limit=200_000,
                    compression_threshold=70,
                    options={"cost": pricing.to_options()},
                )
                configs.append(config)
                self.models[config.id] = config
            q.upsert_chat_usage_limit_config(
                enabled=True, default_limit_micros=20_000_000, period="month"
            )
        rows = []
        for c in configs:
            p = ModelPricing.from_options(c.options)
            assert p is not None
            rows.append(
                (
                    c.display_name,
                    c.provider,
                    c.is_default,
                    *(price(x) for x in (p.input, p.output, p.cache_read, p.cache_write)),
                )
            )
        t.say("Prices are USD per million tokens, stored in options.cost:")
        t.table(
            ["model", "provider", "default", "input", "output", "cache read", "cache write"], rows
        )
        t.say("Spend limit: $20.00 per user per month.")
        return configs[0], configs[1]

    def first_chat(self, people: People) -> Chat:
        t = self.t
        t.heading("Alice starts a chat")
        created = self.chats.create_chat(
            organization_id=people.organization_id,
            title="Fix the flaky checkout test",
            content="test_checkout fails about one run in ten on CI. Can you find out why?",
            system_prompt="Answer like a senior engineer: short, precise, with evidence.",
            labels={"team": "payments"},
            dynamic_tools=[
                {
                    "name": "open_in_editor",
                    "description": "Open a file at a line in the user's editor",
                    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
                }
            ],
            actor=people.alice,
        )
        t.say(
            f"create_chat wrote the chat ({created.chat.status}, model "
            f"{self.model_name(created.chat.last_model_config_id)}) and its first messages in one "
            "transaction:"
        )
        self.messages_table(created.messages)
        return created.chat

    def agent_run(
        self, people: People, chat: Chat, sonnet: ChatModelConfig, mini: ChatModelConfig
    ) -> None:
        t = self.t
        t.heading("The agent works: a sub-agent, a queued message, a client-side tool")
        [running] = self.chats.acquire_chats(self.worker_id, actor=CHATD)
        t.say(
            f"chatd acquired {running.title!r}: {running.status}, worker {str(self.worker_id)[:8]}."
        )
        child = self.chats.create_chat(
            parent_chat_id=chat.id,
            title="Investigate test_checkout timing",
            content="Read tests/test_checkout.py and list every timing assumption.",
            actor=CHATD,
        ).chat
        t.say(
            f"The agent spawned the sub-agent chat {child.title!r}; it inherits owner, "
            "organization and workspace, and its root is the chat."
        )
        assert child.root_chat_id == chat.id and child.owner_id == people.alice.id
        [sub] = self.chats.acquire_chats(self.worker_id, actor=CHATD)
        awaited: list[Chat | None] = []
        parent_waits = threading.Thread(
            target=lambda: awaited.append(
                self.hub.wait_for_chat(child.id, {"completed", "error"}, timeout=30, actor=CHATD)
            )
        )
        parent_waits.start()
        self.assistant_step(
            sub,
            sonnet,
            Step(
                "The test sleeps 100 ms and expects the payment webhook to have arrived.",
                input_tokens=3_100,
                output_tokens=420,
                cache_creation_tokens=2_048,
                runtime_ms=6_400,
            ),
            status=ChatStatus.COMPLETED,
        )
        parent_waits.join(40)
        if awaited and awaited[0] is not None:
            t.say(
                "The agent awaited its sub-agent with wait_for_chat, which wakes on the "
                f"sub-agent's status events: it returned the sub-agent {awaited[0].status}."
            )

        sent = self.chats.send_message(
            chat.id,
            "When you're done, also add a changelog entry.",
            model_config_id=mini.id,
            actor=people.alice,
        )
        assert sent.queued is not None
        t.say(
            f"Alice sends another message while the chat is {sent.chat.status}: it is queued "
            f"(#{sent.queued.id}) with the model she picked, {self.model_name(mini.id)}."
        )

        call = ToolCallPart(
            tool_call_id="call_1",
            tool_name="open_in_editor",
            args={"path": "tests/test_checkout.py", "line": 42},
        )
        self.assistant_step(
            running,
            sonnet,
            Step(
                "Found it: a fixed sleep races the webhook. Let me show you the line.",
                input_tokens=5_200,
                output_tokens=900,
                reasoning_tokens=300,
                cache_read_tokens=2_048,
                runtime_ms=9_800,
                tool_calls=[call],
            ),
            status=ChatStatus.REQUIRES_ACTION,
        )
        t.say("The model called open_in_editor, a tool the client runs: requires_action.")
        done = self.chats.submit_tool_results(
            chat.id, [ToolResult("call_1", {"opened": True})], actor=people.alice
        )
        t.say(f"Alice's client answered with submit_tool_results: the chat is {done.chat.status}.")
        [again] = self.chats.acquire_chats(self.worker_id, actor=CHATD)
        self.assistant_step(
            again,
            sonnet,
            Step(
                "Replaced the sleep with a wait on the webhook event; 200 runs, no failure.",
                input_tokens=6_400,
                output_tokens=1_250,
                cache_read_tokens=5_120,
                runtime_ms=14_200,
            ),
            status=ChatStatus.COMPLETED,
        )

        before = self.model_name(again.last_model_config_id)
        promoted = self.chats.auto_promote(chat.id, actor=CHATD)
        assert promoted is not None
        after = self.model_name(promoted.chat.last_model_config_id)
        t.say("The run completed, so auto_promote admitted the oldest queued message:")
        t.say(f"Promoted queued #{promoted.queued_id} with its own model: {before} -> {after}.")
        [last] = self.chats.acquire_chats(self.worker_id, actor=CHATD)
        self.assistant_step(
            last,
            mini,
            Step(
                "Added a changelog entry under 'Fixed'.",
                input_tokens=7_900,
                output_tokens=180,
                cache_read_tokens=6_000,
                runtime_ms=2_100,
            ),
            status=ChatStatus.COMPLETED,
        )
        t.say("Assistant steps, priced when written (chatdb.cost.message_cost_micros):")
        with self.as_(people.alice) as q:
            steps = [
                ("sub-agent" if c is child else "main", m)
                for c in (chat, child)
                for m in q.get_chat_messages_by_chat_id(chat_id=c.id, after_id=0)
                if m.role is ChatMessageRole.ASSISTANT
            ]
        rows = [
            (
                m.id,
                where,
                self.model_name(m.model_config_id),
                m.input_tokens,
                m.output_tokens,
                m.cache_read_tokens,
                m.cache_creation_tokens,
                dollars(m.total_cost_micros),
            )
            for where, m in sorted(steps, key=lambda s: s[1].id)
        ]
        t.table(["msg", "chat", "model", "input", "output", "cache rd", "cache wr", "cost"], rows)

    def sidebar(self, people: People, chat: Chat) -> None:
        t = self.t
        t.heading("Alice's sidebar: read state and pins")
        other = self.chats.create_chat(
            organization_id=people.organization_id, title="Plan the Q3 upgrade", actor=people.alice
        ).chat
        self.chats.pin(other.id, actor=people.alice)
        self.chats.pin(chat.id, actor=people.alice)
        self.chats.reorder_pin(chat.id, 1, actor=people.alice)
        t.say(
            "She opened a second chat, pinned both, then moved the checkout chat to the top. "
            "It has an assistant reply she has not read yet:"
        )
        self.sidebar_table(people.alice)
        read = self.chats.mark_read(chat.id, actor=people.alice)
        unread = self.list_chats(people.alice, has_unread=True)
        t.say(
            f"mark_read moved the read watermark to message {read.last_read_message_id}; "
            f"chats with unread replies now: {len(unread)}."
        )

    def list_chats(self, actor: Subject, *, has_unread: bool | None = None) -> list[GetChatsRow]:
        """GetChats as ``actor``: the first page of the root chats it may read."""
        with self.as_(actor) as q:
            return q.get_chats(
                owner_id=None,
                archived=None,
                label_filter=None,
                has_unread=has_unread,
                title_query=None,
                after_id=None,
                offset=0,
                limit=0,
            )

    def sidebar_table(self, actor: Subject) -> None:
        rows = self.list_chats(actor)
        self.t.table(
            ["pin", "title", "status", "unread", "archived", "model"],
            [
                (
                    r.chats.pin_order or "",
                    r.chats.title,
                    r.chats.status,
                    r.has_unread,
                    r.chats.archived,
                    self.model_name(r.chats.last_model_config_id),
                )
                for r in rows
            ],
        )

    def refusal(self, people: People, chat: Chat) -> None:
        t = self.t
        t.heading("Authorization: bob may not read alice's chat")
        try:
            with self.as_(people.bob) as q:
                q.get_chat_by_id(id=chat.id)
        except NotAuthorized as exc:
            t.say("bob: get_chat_by_id(alice's chat) -> refused: NotAuthorized")
            t.write(f"  {exc}")
        else:  # pragma: no cover - the demo would be lying
            raise AssertionError("bob read alice's chat")
        visible = self.list_chats(people.bob)
        t.say(f"bob: get_chats -> {len(visible)} chats (the SQL filter hides the others' rows).")
        with self.as_(people.admin) as q:
            seen = q.get_chat_by_id(id=chat.id)
        t.say(f"ada (organization-admin of acme) may read it: {seen.title!r}.")

    def archive(self, people: People, chat: Chat) -> None:
        t = self.t
        t.heading("Archiving a family")
        family = self.chats.archive(chat.id, actor=people.alice)
        t.say(
            f"Archiving the root archived its family ({len(family)} chats) in one statement "
            "and unpinned it:"
        )
        t.table(
            ["title", "sub-agent", "archived", "pin"],
            [(c.title, c.parent_chat_id is not None, c.archived, c.pin_order) for c in family],
        )
        child = next(c for c in family if c.parent_chat_id is not None)
        try:
            self.chats.unarchive(child.id, actor=people.alice)
        except Conflict as exc:
            t.say("Unarchiving the sub-agent alone -> refused: Conflict")
            t.write(f"  {exc}")
        t.say(
            "The sidebar (root chats only). Archiving closed the gap in the pins (they stay "
            "numbered 1..n):"
        )
        self.sidebar_table(people.alice)

    def cost(self, people: People) -> None:
        t = self.t
        t.heading("What it cost (as alice)")
        now = datetime.now(UTC)
        start, end = now - timedelta(days=1), now + timedelta(minutes=1)
        with self.as_(people.alice) as q:
            summary = q.get_chat_cost_summary(owner_id=people.alice.id, start=start, end=end)
            per_model = q.get_chat_cost_per_model(owner_id=people.alice.id, start=start, end=end)
        t.table(
            ["model", "messages", "input", "output", "cache rd", "cache wr", "runtime", "cost"],
            [
                (
                    m.display_name,
                    m.message_count,
                    m.total_input_tokens,
                    m.total_output_tokens,
                    m.total_cache_read_tokens,
                    m.total_cache_creation_tokens,
                    f"{m.total_runtime_ms / 1000:.1f} s",
                    dollars(m.total_cost_micros),
                )
                for m in per_model
            ],
        )
        t.say(
            f"Total: {dollars(summary.total_cost_micros)} over {summary.priced_message_count} "
            f"priced assistant messages ({summary.unpriced_message_count} unpriced), "
            f"{summary.total_runtime_ms / 1000:.1f} s of model time."
        )
        same = "equals" if summary.total_cost_micros == sum(self.costs) else "DIFFERS FROM"
        t.say(f"The database's total {same} the sum of the per-message costs computed in Python.")
        limit = self.chats.check_usage_limit(
            people.alice.id, people.organization_id, actor=people.alice
        )
        t.say(
            f"Spend limit ({limit.source}): spent {dollars(limit.spent_micros)} of "
            f"{dollars(limit.limit_micros, 2)} this {limit.period}; "
            f"{'allowed' if limit.allowed else 'blocked'}."
        )

    # ---- helpers ------------------------------------------------------------------------------

    def assistant_step(
        self, chat: Chat, model: ChatModelConfig, step: Step, *, status: ChatStatus
    ) -> ChatMessage:
        """What a worker does after an LLM call: store the priced step, set the chat's status."""
        cost = message_cost_micros(
            ModelPricing.from_options(model.options),
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            reasoning_tokens=step.reasoning_tokens,
            cache_creation_tokens=step.cache_creation_tokens,
            cache_read_tokens=step.cache_read_tokens,
        )
        if cost is not None:
            self.costs.append(cost)

        def write(raw: Querier) -> ChatMessage:
            q = AuthzQuerier(raw, actor=CHATD)
            [message] = q.insert_chat_messages(
                chat_id=chat.id,
                created_by=[None],
                model_config_id=[model.id],
                role=[ChatMessageRole.ASSISTANT],
                content=[dump_content([TextPart(text=step.text), *step.tool_calls])],
                content_version=[1],
                visibility=[None],
                input_tokens=[step.input_tokens],
                output_tokens=[step.output_tokens],
                total_tokens=[step.input_tokens + step.output_tokens],
                reasoning_tokens=[step.reasoning_tokens],
                cache_creation_tokens=[step.cache_creation_tokens],
                cache_read_tokens=[step.cache_read_tokens],
                context_limit=[model.context_limit],
                compressed=[False],
                total_cost_micros=[cost],
                runtime_ms=[step.runtime_ms],
                provider_response_id=[f"resp_{uuid4().hex[:12]}"],
            )
            after = q.update_chat_status(
                id=chat.id,
                status=status,
                worker_id=None,
                started_at=None,
                heartbeat_at=None,
                last_error=None,
            )
            # Writes outside the workflows publish their own events, in their transaction.
            with self.store.connection() as conn:
                publish(
                    conn,
                    [
                        *events.messages_appended(after, [message.id]),
                        *events.status_changed(after, after.status),
                    ],
                )
            return message

        return self.store.in_tx(write)

    def live_events(self, people: People, chat: Chat) -> None:
        t = self.t
        t.heading("Live events: what alice's subscription received")
        assert self.feed is not None and self.bobs_feed is not None
        # An archived chat refuses renames: rename the chat alice still has in her sidebar.
        live = self.chats.list_chats(actor=people.alice, limit=1)[0].chats
        renamed = self.chats.update_chat(
            live.id, title=f"{live.title}: scheduled", actor=people.alice
        )
        t.say(
            "Alice's client subscribed to her chat list (ChatEvents.subscribe_chat_list) before "
            "her first chat existed. Every workflow above published its events in its own "
            "transaction; they reached the subscriber on commit, in order. Renaming her live "
            "chat now, and reading the feed up to that rename:"
        )
        titles: dict[UUID, str] = {}
        rows: list[tuple[object, ...]] = []
        while True:
            item = self.feed.get(timeout=10)
            if item is None:
                raise RuntimeError("the rename's event never arrived")
            if isinstance(item, Resync):
                rows.append((len(rows) + 1, f"resync ({item.reason})", "", ""))
                continue
            if item.chat_id not in titles:
                with self.as_(people.alice) as q:
                    titles[item.chat_id] = q.get_chat_by_id(id=item.chat_id).title
            rows.append(
                (len(rows) + 1, item.kind, shorten(titles[item.chat_id], 34), _details(item))
            )
            if item.kind is Kind.CHAT_UPDATED and item.chat_id == renamed.id:
                break
        self.feed.close()
        t.table(["#", "event", "chat", "details"], rows)
        t.say(
            f"Bob subscribed to alice's chat list at the same time; it holds "
            f"{self.bobs_feed.pending()} events: every event is authorized again on delivery, "
            "against the chat's owner and organization."
        )
        self.bobs_feed.close()

    def messages_table(self, messages: Sequence[ChatMessage]) -> None:
        rows = []
        for m in messages:
            parts = parse_content(m.content_version, m.content, m.role)
            rows.append((m.id, m.role, m.visibility, shorten(text_of(parts, " "))))
        self.t.table(["id", "role", "visible to", "text"], rows)


def _details(event: Event) -> str:
    """An event's data, short (ids are long and say little in a transcript)."""
    data = {k: v for k, v in event.data.items() if k != "worker" and v is not None}
    return ", ".join(f"{k}={v}" for k, v in data.items())


# --- running it --------------------------------------------------------------------------------


def _migrate(t: Transcript, dsn: str) -> int:
    migrator = Migrator(dsn)
    total = len(migrator.migrations())
    log = logging.getLogger("chatdb.migrate")
    with t.step(f"Applying {total} migrations to a fresh database") as progress:
        handler = _MigrationProgress(total, progress)
        previous = log.level
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            migrator.up()
        finally:
            log.removeHandler(handler)
            log.setLevel(previous)
    return migrator.current_version()


@contextlib.contextmanager
def _scratch_database(server: PgServer) -> Iterator[str]:
    """A new database on ``server`` (its conninfo), dropped afterwards whatever happens."""
    name = server.create_database()
    try:
        yield server.dsn(name)
    finally:
        with contextlib.suppress(Exception):
            server.drop_database(name)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(out: TextIO | None = None) -> None:
    """Run the demo, printing the transcript to ``out`` (stdout by default)."""
    t = Transcript(out if out is not None else sys.stdout)
    started = time.monotonic()
    t.title("chatdb demo: one agent session, start to finish")
    existing = os.environ.get(ENV_DSN)
    label = f"Using the PostgreSQL server of ${ENV_DSN}" if existing else "Starting PostgreSQL"
    with _sigterm_interrupts(), contextlib.ExitStack() as cleanup:
        with t.step(label):
            server = cleanup.enter_context(scratch_server())
        dsn = cleanup.enter_context(_scratch_database(server))
        version = _migrate(t, dsn)
        t.say(f"Migrated to schema version {version}.")
        with (
            Store(dsn, querier_factory=Querier, min_size=1, max_size=2) as store,
            psycopg.connect(dsn, autocommit=True) as conn,
            Listener(dsn) as listener,
        ):
            if not listener.wait_connected(30):
                raise RuntimeError("the event listener did not connect")
            Session(t, store, conn, listener).run()
    t.write()
    t.say(f"Done in {time.monotonic() - started:.1f} s; the database is gone.")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chatdb.demo``: the same as ``chatdb demo``."""
    from chatdb.cli import main as cli_main

    return cli_main(["demo", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
