"""Who may run each workflow of ``chatdb.ops``, on whose chat: written by hand from SPEC 5 and 8.

Like ``tests/authz/expected_access.py`` (whose subjects and building blocks this reuses), it
is independent of the policies. Every workflow acts on a chat of the ``object_owner`` in
org A (or, for the worker and provider workflows, on the deployment as a whole).
``list_chats`` refuses by leaving the owner's chats out rather than raising.
"""

from __future__ import annotations

from tests.authz.expected_access import (
    CHAT,
    CONFIG_READ,
    CONFIG_UPDATE,
    PERSONAL,
    SITE_CHAT_DELETE,
    SITE_CHAT_UPDATE,
    S,
)

EXPECTED_WORKFLOWS: dict[str, S] = {
    # chatdb.ops.Chats (and AsyncChats): a chat of the object owner in org A. Creating one
    # for the owner in org A, or a sub-agent under the owner's chat, is the same right.
    "create_chat": CHAT,
    "create_chat (sub-agent)": CHAT,
    "list_chats": CHAT,
    "update_chat": CHAT,
    "archive": CHAT,
    "unarchive": CHAT,
    "pin": CHAT,
    "unpin": CHAT,
    "reorder_pin": CHAT,
    "mark_read": CHAT,
    "refresh_workspace_binding": CHAT,
    "send_message": CHAT,
    "promote_queued": CHAT,
    "auto_promote": CHAT,
    "edit_message": CHAT,
    "submit_tool_results": CHAT,
    # The pull request of the owner's chat: its branch, the provider's snapshot.
    "report_git_reference": CHAT,
    "record_pull_request": CHAT,
    # A file of the owner in org A, or a tool's output stored into (and linked to) its chat.
    "upload_file": CHAT,
    "upload_file (for a chat)": CHAT,
    # The owner checks its own limit in org A; so may those who read its chats there.
    "check_usage_limit": CHAT,
    # Worker side: only a site-wide grant on chats (and only when named explicitly).
    "acquire_chats": SITE_CHAT_UPDATE,
    "heartbeat": SITE_CHAT_UPDATE,
    "recover_stale_chats": SITE_CHAT_UPDATE,
    # Retention (the dbpurge job): only a site-wide grant to delete chats, named explicitly.
    "purge_chats": SITE_CHAT_DELETE,
    "purge_expired_chats": SITE_CHAT_DELETE,
    # chatdb.ops.ProviderConfig: the deployment's providers (SPEC 4.7).
    "ProviderConfig.create": CONFIG_UPDATE,
    "ProviderConfig.update": CONFIG_UPDATE,
    "ProviderConfig.delete": CONFIG_UPDATE,
    "ProviderConfig.get": CONFIG_READ,
    "ProviderConfig.list": CONFIG_READ,
    # chatdb.ops.McpServers: the deployment's MCP servers, and the object owner's own token
    # (its user personally; admins through deployment_config, SPEC 4.7).
    "McpServers.create": CONFIG_UPDATE,
    "McpServers.update": CONFIG_UPDATE,
    "McpServers.delete": CONFIG_UPDATE,
    "McpServers.get": CONFIG_READ,
    "McpServers.get_by_slug": CONFIG_READ,
    "McpServers.list": CONFIG_READ,
    "McpServers.set_user_token": PERSONAL | CONFIG_UPDATE,
    "McpServers.get_user_token": PERSONAL | CONFIG_READ,
    "McpServers.user_tokens": PERSONAL | CONFIG_READ,
    "McpServers.delete_user_token": PERSONAL | CONFIG_UPDATE,
}

FILTERED_WORKFLOWS: frozenset[str] = frozenset({"list_chats"})
