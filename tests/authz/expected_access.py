"""Who may call each querier method, written by hand from SPEC sections 4 and 8.

This table is deliberately independent of the ``-- authz:`` lines and of everything
generated from them: it imports no policy, reads no SQL. ``test_expected_access.py`` drives
every row through the authorization wrapper as real people and system subjects and fails
when a policy lets in someone this table refuses, or refuses someone it allows. So weakening
(or strengthening) a policy fails a test even though the regenerated wrapper matches it.

The subjects, all acting on the rows of one organization ("org A"):

- ``object_owner``: a ``chat-access`` member of org A who owns the chat, file, settings
  or spend the call is about (the ``user_id``/``owner_id`` argument).
- ``other_member``: another ``chat-access`` member of org A.
- ``org_admin`` / ``other_org_admin``: ``organization-admin`` of org A / of another organization.
- ``auditor``, ``user_admin``, ``site_owner``: members of org A with that site role.
- ``chatd``, ``dbpurge``, ``telemetry``, ``system``: the system subjects.
- ``no_actor``: nobody; refused everywhere (fail closed), so it is in no set below.

For the methods in ``FILTERED`` a refusal drops the rows instead of raising: "allowed" means
the object owner's chats (or files) are among the rows returned.
"""

from __future__ import annotations

SUBJECTS: tuple[str, ...] = (
    "object_owner",
    "other_member",
    "org_admin",
    "other_org_admin",
    "auditor",
    "user_admin",
    "site_owner",
    "chatd",
    "dbpurge",
    "telemetry",
    "system",
    "no_actor",
)

S = frozenset[str]

# -- building blocks (SPEC section 8) ------------------------------------------------------

# Anyone authenticated (the site-setting getters, the default model).
ANY_ACTOR: S = frozenset(SUBJECTS) - {"no_actor"}
# A chat of org A: its owner (chat-access: own chats in its orgs), org A's admin (every chat
# of its org), the site owner, chatd (site-wide chat CRUD) and system. Not another member,
# not another org's admin, not the auditor (deployment config only), not user-admin, not
# dbpurge (system delete only) and not telemetry (system read only: aggregates, no PII).
CHAT: S = frozenset({"object_owner", "org_admin", "site_owner", "chatd", "system"})
# Read on "chats owned by X" with no organization (cost analytics across every org): an
# organization admin sees only its organization, so it is not enough here.
OWNER_ACROSS_ORGS: S = frozenset({"object_owner", "site_owner", "chatd", "system"})
# A site-wide grant on chats (worker and sweep queries, the per-user cost rollup).
SITE_CHAT_READ: S = frozenset({"site_owner", "chatd", "system"})
SITE_CHAT_UPDATE: S = frozenset({"site_owner", "chatd", "system"})
SITE_CHAT_DELETE: S = frozenset({"site_owner", "chatd", "dbpurge", "system"})
SITE_FILE_READ: S = frozenset({"site_owner", "chatd", "system"})
# Telemetry aggregates: the telemetry subject (and the all-powerful ones), not chatd.
TELEMETRY_READ: S = frozenset({"site_owner", "telemetry", "system"})
# Reading users' authorization data: those with site-wide user read.
SITE_USER_READ: S = frozenset({"user_admin", "site_owner", "chatd", "system"})
# deployment_config read / update.
CONFIG_READ: S = frozenset({"auditor", "site_owner", "chatd", "telemetry", "system"})
CONFIG_UPDATE: S = frozenset({"site_owner", "system"})
# read_personal / update_personal on the object owner's user.
PERSONAL: S = frozenset({"object_owner", "site_owner", "system"})

# -- the table -----------------------------------------------------------------------------

EXPECTED: dict[str, S] = {
    # Setting a user's site roles needs update on the user (which roles each may assign:
    # tests/authz/test_role_assignment.py): system, owner and user-admin.
    "update_user_site_roles": frozenset({"user_admin", "site_owner", "system"}),
    # 4.1 chats
    "insert_chat": CHAT,
    "get_chat_by_id": CHAT,
    "get_chat_by_id_for_update": CHAT,
    "get_chats": CHAT,
    "get_child_chats_by_parent_ids": CHAT,
    "get_chats_by_workspace_ids": CHAT,
    "get_latest_chat_ids_by_workspace_ids": CHAT,
    "get_active_chats_by_agent_id": CHAT,
    "update_chat_by_id": CHAT,
    "update_chat_title_by_id": CHAT,
    "update_chat_status": CHAT,
    "update_chat_status_preserve_updated_at": CHAT,
    "update_chat_last_model_config_by_id": CHAT,
    "update_chat_workspace_binding": CHAT,
    "update_chat_build_agent_binding": CHAT,
    "update_chat_mcp_server_ids": CHAT,
    "update_chat_plan_mode_by_id": CHAT,
    "update_chat_last_injected_context": CHAT,
    "update_chat_last_read_message_id": CHAT,
    "archive_chat_by_id": CHAT,
    "unarchive_chat_by_id": CHAT,
    "pin_chat_by_id": CHAT,
    "unpin_chat_by_id": CHAT,
    "update_chat_pin_order": CHAT,
    "lock_chat_owner_pins": CHAT,  # serializes pin changes: as much as changing a pin
    "get_chat_family_ids_by_root_id": CHAT,
    # Creating a chat for the owner in org A, bound to the owner's workspace.
    "get_workspace_for_chat_binding": CHAT,
    # 4.2 messages
    "insert_chat_messages": CHAT,
    "get_chat_message_by_id": CHAT,
    "get_chat_messages_by_chat_id": CHAT,
    "get_chat_messages_by_chat_id_desc_paginated": CHAT,
    "get_chat_messages_for_prompt_by_chat_id": CHAT,
    "get_last_chat_message_by_role": CHAT,
    "soft_delete_chat_messages_after_id": CHAT,
    "soft_delete_chat_message_by_id": CHAT,
    "soft_delete_context_file_messages": CHAT,
    "get_chat_user_prompts_by_chat_id": CHAT,
    "get_chat_context_file_messages": CHAT,
    "get_latest_workspace_agent_for_chat": CHAT,
    # 4.3 queued messages
    "insert_chat_queued_message": CHAT,
    "get_chat_queued_messages": CHAT,
    "delete_chat_queued_message": CHAT,
    "delete_all_chat_queued_messages": CHAT,
    "pop_next_queued_message": CHAT,
    "quarantine_chat_queued_message": CHAT,
    "get_chat_quarantined_queued_messages": CHAT,
    # 4.4 workers
    "acquire_chats": SITE_CHAT_UPDATE,
    "update_chat_heartbeats": SITE_CHAT_UPDATE,
    "get_chat_lease_for_update": CHAT,
    "get_stale_chats": SITE_CHAT_READ,
    # 4.5 pull-request status
    "get_chat_diff_status_by_chat_id": CHAT,
    "get_chat_diff_statuses_by_chat_ids": CHAT,
    "upsert_chat_diff_status_reference": CHAT,
    "upsert_chat_diff_status": CHAT,
    "mark_chat_diff_status_stale": CHAT,
    "acquire_stale_chat_diff_statuses": SITE_CHAT_UPDATE,
    "backoff_chat_diff_status": SITE_CHAT_UPDATE,
    # 4.6 files. Linking: the chat is the owner's, the file is the *other member's*: linking
    # needs update on the chat and read on every file, so only org A's admin and the
    # site-wide subjects may; the owner may not attach a file it cannot read.
    "insert_chat_file": CHAT,
    "get_chat_file_by_id": CHAT,
    "get_chat_file_metadata_by_chat_id": CHAT,
    "get_chat_file_metadata_by_ids": CHAT,
    "link_chat_files": frozenset({"org_admin", "site_owner", "chatd", "system"}),
    "delete_old_chat_files": SITE_CHAT_DELETE,
    # The lookups behind get_chat_file_by_id: site-wide only.
    "get_chat_file_owner_by_id": SITE_FILE_READ,
    "get_chat_ids_by_file_id": SITE_CHAT_READ,
    # The lookups behind `read workspace(...)` and `<type>(owner=, org=)` checks: a workspace's
    # owner and organization (site-wide workspace read: chatd binds workspaces for users), and
    # organization membership (site-wide user and organization read: not chatd).
    "get_workspace_owner_by_id": frozenset({"site_owner", "chatd", "system"}),
    "is_organization_member": frozenset({"user_admin", "site_owner", "system"}),
    # 4.7 providers, model configs, MCP servers
    "get_chat_provider_by_id": CONFIG_READ,
    "get_chat_provider_by_provider": CONFIG_READ,
    "get_chat_providers": CONFIG_READ,
    "get_enabled_chat_providers": CONFIG_READ,
    "insert_chat_provider": CONFIG_UPDATE,
    "update_chat_provider": CONFIG_UPDATE,
    "delete_chat_provider_by_id": CONFIG_UPDATE,
    "get_chat_model_config_by_id": CONFIG_READ,
    "get_default_chat_model_config": ANY_ACTOR,
    "get_chat_model_configs": CONFIG_READ,
    "get_enabled_chat_model_configs": CONFIG_READ,
    "count_enabled_models_without_pricing": CONFIG_READ,
    "insert_chat_model_config": CONFIG_UPDATE,
    "update_chat_model_config": CONFIG_UPDATE,
    "delete_chat_model_config_by_id": CONFIG_UPDATE,
    "unset_default_chat_model_configs": CONFIG_UPDATE,
    # Whether a model may be chosen for a chat: asked by every chat user (create/send).
    "is_chat_model_config_usable": ANY_ACTOR,
    "get_mcp_server_config_by_id": CONFIG_READ,
    "get_mcp_server_config_by_slug": CONFIG_READ,
    "get_mcp_server_configs": CONFIG_READ,
    "get_enabled_mcp_server_configs": CONFIG_READ,
    "get_mcp_server_configs_by_ids": CONFIG_READ,
    "get_forced_mcp_server_configs": CONFIG_READ,
    "insert_mcp_server_config": CONFIG_UPDATE,
    "update_mcp_server_config": CONFIG_UPDATE,
    "delete_mcp_server_config_by_id": CONFIG_UPDATE,
    # The token's own user personally; admins via deployment_config.
    "get_mcp_server_user_token": PERSONAL | CONFIG_READ,
    "get_mcp_server_user_tokens_by_user_id": PERSONAL | CONFIG_READ,
    "upsert_mcp_server_user_token": PERSONAL | CONFIG_UPDATE,
    "delete_mcp_server_user_token": PERSONAL | CONFIG_UPDATE,
    "cleanup_deleted_mcp_server_ids_from_chats": SITE_CHAT_UPDATE,
    # 4.8 spend limits and cost analytics
    "get_chat_usage_limit_config": CONFIG_READ,
    "upsert_chat_usage_limit_config": CONFIG_UPDATE,
    "list_chat_usage_limit_overrides": CONFIG_READ,
    "get_chat_usage_limit_user_override": CONFIG_READ,
    "upsert_chat_usage_limit_user_override": CONFIG_UPDATE,
    "delete_chat_usage_limit_user_override": CONFIG_UPDATE,
    "list_chat_usage_limit_group_overrides": CONFIG_READ,
    "get_chat_usage_limit_group_override": CONFIG_READ,
    "upsert_chat_usage_limit_group_override": CONFIG_UPDATE,
    "delete_chat_usage_limit_group_override": CONFIG_UPDATE,
    # Limits and spend of the owner in org A: read on chats owned by it in org A.
    "get_user_group_spend_limit": CHAT,
    "resolve_user_chat_spend_limit": CHAT,
    "get_user_chat_spend_in_period": CHAT,
    "get_chat_cost_summary": OWNER_ACROSS_ORGS,
    "get_chat_cost_per_model": OWNER_ACROSS_ORGS,
    "get_chat_cost_per_chat": OWNER_ACROSS_ORGS,
    "get_chat_cost_per_user": SITE_CHAT_READ,
    # 4.9 telemetry, retention, settings
    "get_chats_updated_after": TELEMETRY_READ,
    "get_chat_message_summaries_per_chat": TELEMETRY_READ,
    "get_chat_model_configs_for_telemetry": TELEMETRY_READ,
    "get_chat_diff_status_summary": TELEMETRY_READ,
    "delete_old_chats": SITE_CHAT_DELETE,
    "list_user_chat_compaction_thresholds": PERSONAL,
    "get_user_chat_compaction_threshold": PERSONAL,
    "update_user_chat_compaction_threshold": PERSONAL,
    "delete_user_chat_compaction_threshold": PERSONAL,
    "get_user_chat_custom_prompt": PERSONAL,
    "update_user_chat_custom_prompt": PERSONAL,
    "get_chat_system_prompt": ANY_ACTOR,
    "get_chat_system_prompt_settings": ANY_ACTOR,
    # What creating a chat reads: whether its model can run, the default model, the prompts.
    "get_chat_start_settings": ANY_ACTOR,
    "upsert_chat_system_prompt": CONFIG_UPDATE,
    "get_chat_include_default_system_prompt": ANY_ACTOR,
    "upsert_chat_include_default_system_prompt": CONFIG_UPDATE,
    "get_chat_desktop_enabled": ANY_ACTOR,
    "upsert_chat_desktop_enabled": CONFIG_UPDATE,
    "get_chat_template_allowlist": ANY_ACTOR,
    "upsert_chat_template_allowlist": CONFIG_UPDATE,
    "get_chat_workspace_ttl": ANY_ACTOR,
    "upsert_chat_workspace_ttl": CONFIG_UPDATE,
    "get_chat_retention_days": ANY_ACTOR,
    "upsert_chat_retention_days": CONFIG_UPDATE,
    # Authentication resolving a subject (roles, memberships, groups of a user).
    "get_authz_subject_by_user_id": SITE_USER_READ,
}

# Listing queries: a refused subject gets the list without the rows it may not read (SPEC:
# post_filter / sql_filter) instead of an error.
FILTERED: frozenset[str] = frozenset(
    {
        "get_chats",
        "get_child_chats_by_parent_ids",
        "get_chats_by_workspace_ids",
        "get_latest_chat_ids_by_workspace_ids",
        "get_active_chats_by_agent_id",
        "get_chat_file_metadata_by_ids",
    }
)
