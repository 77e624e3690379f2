-- Drops the trust-boundary constraints; the links and usage values the up migration cleared
-- are not restored.

ALTER TABLE chat_messages
    DROP CONSTRAINT chat_messages_cost_not_negative_check,
    DROP CONSTRAINT chat_messages_usage_not_negative_check;

ALTER TABLE chats
    DROP CONSTRAINT chats_root_same_owner_fkey,
    DROP CONSTRAINT chats_parent_same_owner_fkey,
    DROP CONSTRAINT chats_workspace_same_organization_fkey,
    DROP CONSTRAINT chats_id_owner_id_organization_id_key;

ALTER TABLE workspaces DROP CONSTRAINT workspaces_id_organization_id_key;
