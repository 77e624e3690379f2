"""Transactional, authorized chat workflows (SPEC 5) built on the generated querier.

``Chats(store)`` offers them all; the concern classes (:class:`ChatLifecycle`,
:class:`Messaging`, :class:`Workers`, :class:`UsageLimits`, :class:`Retention`) can be used
alone, and :class:`ProviderConfig` and :class:`McpServers` keep provider API keys and MCP
secrets encrypted at rest.
"""

from chatdb.ops._base import BUSY_STATUSES, IDLE_STATUSES, NewMessage, UserContent
from chatdb.ops.aio import AsyncChats
from chatdb.ops.chats import (
    DEFAULT_TITLE,
    BoundWorkspace,
    ChatLifecycle,
    ChatListEntry,
    CreatedChat,
    default_workspace_awareness,
)
from chatdb.ops.config import ProviderConfig
from chatdb.ops.diffs import DiffStatuses, PullRequestStatus
from chatdb.ops.facade import Chats
from chatdb.ops.files import MAX_CHAT_FILE_BYTES, Files
from chatdb.ops.mcp import McpServers
from chatdb.ops.messages import (
    AUTO_PROMOTE_STATUSES,
    EditedMessage,
    Messaging,
    PromotedMessage,
    SentMessage,
    SubmittedToolResults,
    ToolResult,
)
from chatdb.ops.retention import MAX_PURGE_BATCH, Retention
from chatdb.ops.usage import UsageLimits, UsageLimitStatus, period_bounds
from chatdb.ops.workers import TOOL_RESULTS_TIMEOUT_ERROR, RecoveredChat, Workers

__all__ = [
    "AUTO_PROMOTE_STATUSES",
    "BUSY_STATUSES",
    "DEFAULT_TITLE",
    "IDLE_STATUSES",
    "MAX_CHAT_FILE_BYTES",
    "MAX_PURGE_BATCH",
    "TOOL_RESULTS_TIMEOUT_ERROR",
    "AsyncChats",
    "BoundWorkspace",
    "ChatLifecycle",
    "ChatListEntry",
    "Chats",
    "CreatedChat",
    "DiffStatuses",
    "EditedMessage",
    "Files",
    "McpServers",
    "Messaging",
    "NewMessage",
    "PromotedMessage",
    "ProviderConfig",
    "PullRequestStatus",
    "RecoveredChat",
    "Retention",
    "SentMessage",
    "SubmittedToolResults",
    "ToolResult",
    "UsageLimitStatus",
    "UsageLimits",
    "UserContent",
    "Workers",
    "default_workspace_awareness",
    "period_bounds",
]
