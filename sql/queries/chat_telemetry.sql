-- Telemetry snapshots and retention (SPEC 4.9). Telemetry carries structure, never PII: no
-- titles, labels, error text, message content, display names or URLs leave these queries.

-- name: GetChatsUpdatedAfter :many
-- authz: system read system
-- Metadata of chats changed after updated_after, oldest change first.
SELECT
    c.id,
    c.owner_id,
    c.organization_id,
    c.created_at,
    c.updated_at,
    c.status,
    c.mode,
    c.plan_mode,
    c.client_type,
    c.workspace_id,
    c.parent_chat_id,
    c.root_chat_id,
    c.parent_chat_id IS NOT NULL AS has_parent,
    c.archived,
    c.pin_order > 0 AS pinned,
    c.last_model_config_id,
    cardinality(c.mcp_server_ids) AS mcp_server_count
FROM chats AS c
WHERE c.updated_at > @updated_after::timestamptz
ORDER BY c.updated_at, c.id;

-- name: GetChatMessageSummariesPerChat :many
-- authz: system read system
-- Per chat, aggregates of its messages created after created_after (soft-deleted ones included:
-- they were sent and paid for): counts by role, token, cost and runtime sums, how many distinct
-- models answered, and how many messages are compressed.
SELECT
    cm.chat_id,
    count(*) AS message_count,
    count(*) FILTER (WHERE cm.role = 'system') AS system_message_count,
    count(*) FILTER (WHERE cm.role = 'user') AS user_message_count,
    count(*) FILTER (WHERE cm.role = 'assistant') AS assistant_message_count,
    count(*) FILTER (WHERE cm.role = 'tool') AS tool_message_count,
    count(*) FILTER (WHERE cm.deleted) AS deleted_message_count,
    coalesce(sum(cm.input_tokens), 0)::bigint AS total_input_tokens,
    coalesce(sum(cm.output_tokens), 0)::bigint AS total_output_tokens,
    coalesce(sum(cm.reasoning_tokens), 0)::bigint AS total_reasoning_tokens,
    coalesce(sum(cm.cache_creation_tokens), 0)::bigint AS total_cache_creation_tokens,
    coalesce(sum(cm.cache_read_tokens), 0)::bigint AS total_cache_read_tokens,
    coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_cost_micros,
    coalesce(sum(cm.runtime_ms), 0)::bigint AS total_runtime_ms,
    count(DISTINCT cm.model_config_id) AS distinct_model_count,
    count(*) FILTER (WHERE cm.compressed) AS compressed_message_count,
    min(cm.created_at) AS "first_message_at!",
    max(cm.created_at) AS "last_message_at!"
FROM chat_messages AS cm
WHERE cm.created_at > @created_after::timestamptz
GROUP BY cm.chat_id
ORDER BY cm.chat_id;

-- name: GetChatModelConfigsForTelemetry :many
-- authz: system read system
-- Every live model config (no display names, no options).
SELECT
    mc.id,
    mc.provider,
    mc.model,
    mc.context_limit,
    mc.compression_threshold,
    mc.enabled,
    mc.is_default,
    mc.created_at,
    mc.updated_at
FROM chat_model_configs AS mc
WHERE NOT mc.deleted
ORDER BY mc.provider, mc.model, mc.id;

-- name: GetChatDiffStatusSummary :one
-- authz: system read system
-- All-time pull-request counts. A PR is counted once however many chats point at its URL, in
-- the state of its most recently refreshed row; rows without a state are not PRs yet.
WITH prs AS (
    SELECT DISTINCT ON (coalesce(ds.url, ds.chat_id::text))
        ds.pull_request_state
    FROM chat_diff_statuses AS ds
    WHERE ds.pull_request_state IS NOT NULL
    ORDER BY
        coalesce(ds.url, ds.chat_id::text),
        ds.refreshed_at DESC NULLS LAST,
        ds.updated_at DESC,
        ds.chat_id
)
SELECT
    count(*) AS total_prs,
    count(*) FILTER (WHERE prs.pull_request_state = 'open') AS open_prs,
    count(*) FILTER (WHERE prs.pull_request_state = 'merged') AS merged_prs,
    count(*) FILTER (WHERE prs.pull_request_state = 'closed') AS closed_prs
FROM prs;

-- name: DeleteOldChats :many
-- authz: system delete chat
-- Retention purge, one batch. The unit is a whole archived subtree, never part of a family:
-- an archived chat whose parent is missing or live (the top of its archived subtree), archived
-- before before_time (updated_at is the archive time), goes together with every descendant,
-- and only when none of them is live (a live descendant would otherwise lose its parent and
-- surface as a root). Up to `limit` such subtrees, oldest first; their messages, queued
-- messages, diff statuses and file links go with them. Returns where each deleted chat
-- belonged (no content: the purger may delete chats, not read them), which is what a
-- `chat.deleted` event needs once the row is gone; run it until it returns no row. Subtrees
-- another purger holds are skipped.
WITH RECURSIVE tops AS (
    SELECT c.id
    FROM chats AS c
    LEFT JOIN chats AS parent ON parent.id = c.parent_chat_id
    WHERE c.archived
        AND c.updated_at < @before_time::timestamptz
        AND (parent.id IS NULL OR NOT parent.archived)
),
subtree (top_id, id, archived) AS (
    SELECT t.id, t.id, true FROM tops AS t
    UNION
    SELECT s.top_id, c.id, c.archived
    FROM chats AS c
    JOIN subtree AS s ON c.parent_chat_id = s.id
),
whole AS (
    SELECT s.top_id FROM subtree AS s GROUP BY s.top_id HAVING bool_and(s.archived)
),
picked AS (
    SELECT c.id
    FROM chats AS c
    WHERE c.id IN (SELECT w.top_id FROM whole AS w)
    ORDER BY c.updated_at, c.id
    LIMIT @limit::integer
    FOR UPDATE OF c SKIP LOCKED
)
DELETE FROM chats
WHERE id IN (SELECT s.id FROM subtree AS s JOIN picked AS p ON p.id = s.top_id)
RETURNING id, owner_id, organization_id, parent_chat_id, root_chat_id;
