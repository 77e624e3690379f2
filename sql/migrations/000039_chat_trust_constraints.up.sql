-- Trust boundaries the database keeps whatever path writes a chat (issue 8, items 1, 2, 6):
--   * a chat's workspace is in the chat's organization;
--   * a sub-agent chat has its parent's and its root's owner and organization;
--   * token counts, cost, runtime and context limits of a message are never negative (a
--     negative cost lowered its author's spend below the limit).
-- Rows written before these rules lose the offending value first, so the constraints can be
-- added: a cross-organization workspace binding is dropped (with its build and agent), a
-- cross-owner parent/root link is cut, a negative usage number becomes NULL (unknown).

UPDATE chats AS c
SET workspace_id = NULL, build_id = NULL, agent_id = NULL
FROM workspaces AS w
WHERE w.id = c.workspace_id AND w.organization_id <> c.organization_id;

UPDATE chats AS c
SET parent_chat_id = NULL
FROM chats AS p
WHERE p.id = c.parent_chat_id
    AND (p.owner_id <> c.owner_id OR p.organization_id <> c.organization_id);

UPDATE chats AS c
SET root_chat_id = NULL
FROM chats AS r
WHERE r.id = c.root_chat_id
    AND (r.owner_id <> c.owner_id OR r.organization_id <> c.organization_id);

ALTER TABLE workspaces
    ADD CONSTRAINT workspaces_id_organization_id_key UNIQUE (id, organization_id);

ALTER TABLE chats
    ADD CONSTRAINT chats_id_owner_id_organization_id_key UNIQUE (id, owner_id, organization_id),
    ADD CONSTRAINT chats_workspace_same_organization_fkey
        FOREIGN KEY (workspace_id, organization_id) REFERENCES workspaces (id, organization_id)
        ON DELETE SET NULL (workspace_id),
    ADD CONSTRAINT chats_parent_same_owner_fkey
        FOREIGN KEY (parent_chat_id, owner_id, organization_id)
        REFERENCES chats (id, owner_id, organization_id)
        ON DELETE SET NULL (parent_chat_id),
    ADD CONSTRAINT chats_root_same_owner_fkey
        FOREIGN KEY (root_chat_id, owner_id, organization_id)
        REFERENCES chats (id, owner_id, organization_id)
        ON DELETE SET NULL (root_chat_id);

UPDATE chat_messages
SET input_tokens = CASE WHEN input_tokens < 0 THEN NULL ELSE input_tokens END,
    output_tokens = CASE WHEN output_tokens < 0 THEN NULL ELSE output_tokens END,
    total_tokens = CASE WHEN total_tokens < 0 THEN NULL ELSE total_tokens END,
    reasoning_tokens = CASE WHEN reasoning_tokens < 0 THEN NULL ELSE reasoning_tokens END,
    cache_creation_tokens
        = CASE WHEN cache_creation_tokens < 0 THEN NULL ELSE cache_creation_tokens END,
    cache_read_tokens = CASE WHEN cache_read_tokens < 0 THEN NULL ELSE cache_read_tokens END,
    context_limit = CASE WHEN context_limit < 0 THEN NULL ELSE context_limit END,
    total_cost_micros = CASE WHEN total_cost_micros < 0 THEN NULL ELSE total_cost_micros END,
    runtime_ms = CASE WHEN runtime_ms < 0 THEN NULL ELSE runtime_ms END
WHERE input_tokens < 0 OR output_tokens < 0 OR total_tokens < 0 OR reasoning_tokens < 0
    OR cache_creation_tokens < 0 OR cache_read_tokens < 0 OR context_limit < 0
    OR total_cost_micros < 0 OR runtime_ms < 0;

ALTER TABLE chat_messages
    ADD CONSTRAINT chat_messages_usage_not_negative_check CHECK (
        input_tokens >= 0 AND output_tokens >= 0 AND total_tokens >= 0
        AND reasoning_tokens >= 0 AND cache_creation_tokens >= 0 AND cache_read_tokens >= 0
        AND context_limit >= 0 AND runtime_ms >= 0
    ),
    ADD CONSTRAINT chat_messages_cost_not_negative_check CHECK (total_cost_micros >= 0);
