-- Cost analytics (SPEC 4.8). Every query sums assistant messages (the ones that carry usage,
-- cost and runtime) created in [start, end), soft-deleted ones included: the money was spent.
-- total_cost_micros sums priced messages only; unpriced ones (NULL cost) are counted apart.
-- Token columns: input, output, cache read and cache creation (cache write) sums.

-- name: GetChatCostSummary :one
-- authz: read chat(owner=owner_id)
-- Totals over the owner's chats. Always one row (zeros when nothing matched).
SELECT
    coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_cost_micros,
    count(cm.total_cost_micros) AS priced_message_count,
    count(*) FILTER (WHERE cm.total_cost_micros IS NULL) AS unpriced_message_count,
    coalesce(sum(cm.input_tokens), 0)::bigint AS total_input_tokens,
    coalesce(sum(cm.output_tokens), 0)::bigint AS total_output_tokens,
    coalesce(sum(cm.cache_read_tokens), 0)::bigint AS total_cache_read_tokens,
    coalesce(sum(cm.cache_creation_tokens), 0)::bigint AS total_cache_creation_tokens,
    coalesce(sum(cm.runtime_ms), 0)::bigint AS total_runtime_ms
FROM chat_messages AS cm
JOIN chats AS c ON c.id = cm.chat_id
WHERE c.owner_id = @owner_id
    AND cm.role = 'assistant'
    AND cm.created_at >= @start::timestamptz
    AND cm.created_at < @end::timestamptz;

-- name: GetChatCostPerModel :many
-- authz: read chat(owner=owner_id)
-- The owner's cost by model config, most expensive first. Deleted model configs keep their
-- names; messages without a model have a NULL model_config_id and empty names.
SELECT
    cm.model_config_id,
    coalesce(max(mc.display_name), '') AS display_name,
    coalesce(max(mc.provider), '') AS provider,
    coalesce(max(mc.model), '') AS model,
    coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_cost_micros,
    count(*) AS message_count,
    count(cm.total_cost_micros) AS priced_message_count,
    count(*) FILTER (WHERE cm.total_cost_micros IS NULL) AS unpriced_message_count,
    coalesce(sum(cm.input_tokens), 0)::bigint AS total_input_tokens,
    coalesce(sum(cm.output_tokens), 0)::bigint AS total_output_tokens,
    coalesce(sum(cm.cache_read_tokens), 0)::bigint AS total_cache_read_tokens,
    coalesce(sum(cm.cache_creation_tokens), 0)::bigint AS total_cache_creation_tokens,
    coalesce(sum(cm.runtime_ms), 0)::bigint AS total_runtime_ms
FROM chat_messages AS cm
JOIN chats AS c ON c.id = cm.chat_id
LEFT JOIN chat_model_configs AS mc ON mc.id = cm.model_config_id
WHERE c.owner_id = @owner_id
    AND cm.role = 'assistant'
    AND cm.created_at >= @start::timestamptz
    AND cm.created_at < @end::timestamptz
GROUP BY cm.model_config_id
ORDER BY total_cost_micros DESC, cm.model_config_id;

-- name: GetChatCostPerChat :many
-- authz: read chat(owner=owner_id)
-- The owner's cost by conversation: sub-agent chats roll up into their root chat
-- (coalesce(root_chat_id, id)), titled by the root ('' when the root is gone). Most expensive
-- first.
WITH per_root AS (
    SELECT
        coalesce(c.root_chat_id, c.id) AS root_chat_id,
        coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_cost_micros,
        count(*) AS message_count,
        count(cm.total_cost_micros) AS priced_message_count,
        count(*) FILTER (WHERE cm.total_cost_micros IS NULL) AS unpriced_message_count,
        coalesce(sum(cm.input_tokens), 0)::bigint AS total_input_tokens,
        coalesce(sum(cm.output_tokens), 0)::bigint AS total_output_tokens,
        coalesce(sum(cm.cache_read_tokens), 0)::bigint AS total_cache_read_tokens,
        coalesce(sum(cm.cache_creation_tokens), 0)::bigint AS total_cache_creation_tokens,
        coalesce(sum(cm.runtime_ms), 0)::bigint AS total_runtime_ms
    FROM chat_messages AS cm
    JOIN chats AS c ON c.id = cm.chat_id
    WHERE c.owner_id = @owner_id
        AND cm.role = 'assistant'
        AND cm.created_at >= @start::timestamptz
        AND cm.created_at < @end::timestamptz
    GROUP BY coalesce(c.root_chat_id, c.id)
)
SELECT
    pr.root_chat_id AS "root_chat_id!",
    coalesce(root.title, '') AS chat_title,
    pr.total_cost_micros AS "total_cost_micros!",
    pr.message_count AS "message_count!",
    pr.priced_message_count AS "priced_message_count!",
    pr.unpriced_message_count AS "unpriced_message_count!",
    pr.total_input_tokens AS "total_input_tokens!",
    pr.total_output_tokens AS "total_output_tokens!",
    pr.total_cache_read_tokens AS "total_cache_read_tokens!",
    pr.total_cache_creation_tokens AS "total_cache_creation_tokens!",
    pr.total_runtime_ms AS "total_runtime_ms!"
FROM per_root AS pr
LEFT JOIN chats AS root ON root.id = pr.root_chat_id
ORDER BY pr.total_cost_micros DESC, pr.root_chat_id;

-- name: GetChatCostPerUser :many
-- authz: system read chat
-- Site-wide cost by chat owner, most expensive first, one page (limit, offset). search (NULL =
-- everyone) is a case-insensitive substring of the username or the name; % and _ in it match
-- literally. total_count is the number of matching users before paging.
WITH per_user AS (
    SELECT
        c.owner_id AS user_id,
        coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_cost_micros,
        count(*) AS message_count,
        count(DISTINCT c.id) AS chat_count,
        count(cm.total_cost_micros) AS priced_message_count,
        count(*) FILTER (WHERE cm.total_cost_micros IS NULL) AS unpriced_message_count,
        coalesce(sum(cm.input_tokens), 0)::bigint AS total_input_tokens,
        coalesce(sum(cm.output_tokens), 0)::bigint AS total_output_tokens,
        coalesce(sum(cm.cache_read_tokens), 0)::bigint AS total_cache_read_tokens,
        coalesce(sum(cm.cache_creation_tokens), 0)::bigint AS total_cache_creation_tokens,
        coalesce(sum(cm.runtime_ms), 0)::bigint AS total_runtime_ms
    FROM chat_messages AS cm
    JOIN chats AS c ON c.id = cm.chat_id
    WHERE cm.role = 'assistant'
        AND cm.created_at >= @start::timestamptz
        AND cm.created_at < @end::timestamptz
    GROUP BY c.owner_id
)
SELECT
    pu.user_id AS "user_id!",
    u.username,
    u.name,
    u.avatar_url,
    pu.total_cost_micros AS "total_cost_micros!",
    pu.message_count AS "message_count!",
    pu.chat_count AS "chat_count!",
    pu.priced_message_count AS "priced_message_count!",
    pu.unpriced_message_count AS "unpriced_message_count!",
    pu.total_input_tokens AS "total_input_tokens!",
    pu.total_output_tokens AS "total_output_tokens!",
    pu.total_cache_read_tokens AS "total_cache_read_tokens!",
    pu.total_cache_creation_tokens AS "total_cache_creation_tokens!",
    pu.total_runtime_ms AS "total_runtime_ms!",
    count(*) OVER () AS total_count
FROM per_user AS pu
JOIN users AS u ON u.id = pu.user_id
CROSS JOIN (
    SELECT
        '%' || replace(replace(replace(sqlc.narg(search)::text, '\', '\\'), '%', '\%'), '_', '\_')
        || '%' AS pattern
) AS s
WHERE s.pattern IS NULL OR u.username ILIKE s.pattern OR u.name ILIKE s.pattern
ORDER BY pu.total_cost_micros DESC, pu.user_id
LIMIT @limit::integer
OFFSET @offset::integer;
