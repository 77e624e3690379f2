-- name: InsertChatMessages :many
-- authz: update chat(chat_id) and is_actor[](created_by) and waive(model_config_id: "a message may name any model: naming one reads or changes nothing of its configuration")
-- Inserts a batch of messages in one statement: element i of every array describes message i
-- (NULL elements allowed; a NULL visibility or compressed takes the column default), and the
-- rows come back in input order. Arrays of different lengths are refused with an error naming
-- the query. In the same statement the chat's last_model_config_id becomes the batch's last
-- non-NULL model_config_id, written only when it differs so an unchanged chat row is not
-- rewritten; updated_at is never touched.
WITH input AS (
    SELECT m.*
    FROM unnest(
        @created_by::uuid[],
        @model_config_id::uuid[],
        @role::chat_message_role[],
        @content::jsonb[],
        @content_version::smallint[],
        @visibility::chat_message_visibility[],
        @input_tokens::bigint[],
        @output_tokens::bigint[],
        @total_tokens::bigint[],
        @reasoning_tokens::bigint[],
        @cache_creation_tokens::bigint[],
        @cache_read_tokens::bigint[],
        @context_limit::bigint[],
        @compressed::boolean[],
        @total_cost_micros::bigint[],
        @runtime_ms::bigint[],
        @provider_response_id::text[]
    ) WITH ORDINALITY AS m (
        created_by, model_config_id, role, content, content_version, visibility,
        input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_creation_tokens,
        cache_read_tokens, context_limit, compressed, total_cost_micros, runtime_ms,
        provider_response_id, ord
    )
    -- Guard: unnest() would pad short arrays with NULLs; refuse instead. The cast of the
    -- message to boolean is how plain SQL raises an error (22P02, carrying the message).
    WHERE CASE
        WHEN cardinality(@role::chat_message_role[]) = ALL (ARRAY[
            cardinality(@created_by::uuid[]),
            cardinality(@model_config_id::uuid[]),
            cardinality(@content::jsonb[]),
            cardinality(@content_version::smallint[]),
            cardinality(@visibility::chat_message_visibility[]),
            cardinality(@input_tokens::bigint[]),
            cardinality(@output_tokens::bigint[]),
            cardinality(@total_tokens::bigint[]),
            cardinality(@reasoning_tokens::bigint[]),
            cardinality(@cache_creation_tokens::bigint[]),
            cardinality(@cache_read_tokens::bigint[]),
            cardinality(@context_limit::bigint[]),
            cardinality(@compressed::boolean[]),
            cardinality(@total_cost_micros::bigint[]),
            cardinality(@runtime_ms::bigint[]),
            cardinality(@provider_response_id::text[])
        ]) THEN true
        ELSE ('InsertChatMessages: every array must have the same length (role has '
            || coalesce(cardinality(@role::chat_message_role[]), 0) || ' elements)')::boolean
    END
),
inserted AS (
    INSERT INTO chat_messages (
        chat_id, created_by, model_config_id, role, content, content_version, visibility,
        input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_creation_tokens,
        cache_read_tokens, context_limit, compressed, total_cost_micros, runtime_ms,
        provider_response_id
    )
    SELECT
        @chat_id::uuid, created_by, model_config_id, role, content, content_version,
        coalesce(visibility, 'both'), input_tokens, output_tokens, total_tokens,
        reasoning_tokens, cache_creation_tokens, cache_read_tokens, context_limit,
        coalesce(compressed, false), total_cost_micros, runtime_ms, provider_response_id
    FROM input
    ORDER BY ord
    RETURNING *
),
last_model AS (
    SELECT model_config_id FROM input
    WHERE model_config_id IS NOT NULL
    ORDER BY ord DESC
    LIMIT 1
),
chat_update AS (
    UPDATE chats
    SET last_model_config_id = last_model.model_config_id
    FROM last_model
    WHERE chats.id = @chat_id::uuid
        AND chats.last_model_config_id IS DISTINCT FROM last_model.model_config_id
)
SELECT * FROM inserted
ORDER BY id;

-- name: GetChatMessageByID :one
-- authz: custom read on the message's chat
SELECT * FROM chat_messages
WHERE id = @id::bigint AND NOT deleted;

-- name: GetChatMessagesByChatID :many
-- authz: read chat(chat_id)
-- The live-streaming cursor: user-visible messages after after_id (0 = all), oldest first.
SELECT * FROM chat_messages
WHERE chat_id = @chat_id::uuid
    AND id > @after_id::bigint
    AND visibility IN ('user', 'both')
    AND NOT deleted
ORDER BY id;

-- name: GetChatMessagesByChatIDDescPaginated :many
-- authz: read chat(chat_id)
-- A page of user-visible messages, newest first, older than before_id when given. Callers ask
-- for limit + 1 rows to learn whether there is more without a COUNT. limit 0 means 50.
-- The cursor is a plain range bound (no "IS NULL OR"), so even a generic prepared plan seeks
-- the (chat_id, id) index to it instead of filtering every newer message.
SELECT * FROM chat_messages
WHERE chat_id = @chat_id::uuid
    AND id < coalesce(sqlc.narg(before_id)::bigint, 9223372036854775807)
    AND visibility IN ('user', 'both')
    AND NOT deleted
ORDER BY id DESC
LIMIT coalesce(nullif(@limit::int, 0), 50);

-- name: GetChatMessagesForPromptByChatID :many
-- authz: read chat(chat_id)
-- The model's prompt after compaction. The newest live compressed model-only message is the
-- summary of everything before it: the prompt is the uncompressed system messages (system
-- prompts survive compaction), that summary, and the uncompressed messages after it (every
-- uncompressed message when there is no summary); model-visible, non-deleted, oldest first.
WITH summary AS (
    SELECT id FROM chat_messages
    WHERE chat_id = @chat_id::uuid AND compressed AND visibility = 'model' AND NOT deleted
    ORDER BY id DESC
    LIMIT 1
)
SELECT * FROM chat_messages
WHERE chat_id = @chat_id::uuid
    AND visibility IN ('model', 'both')
    AND NOT deleted
    AND (
        (NOT compressed AND role = 'system')
        OR (NOT compressed AND id > coalesce((SELECT id FROM summary), 0))
        OR id = (SELECT id FROM summary)
    )
ORDER BY id;

-- name: GetLastChatMessageByRole :one
-- authz: read chat(chat_id)
SELECT * FROM chat_messages
WHERE chat_id = @chat_id::uuid AND role = @role::chat_message_role AND NOT deleted
ORDER BY id DESC
LIMIT 1;

-- name: SoftDeleteChatMessagesAfterID :exec
-- authz: update chat(chat_id)
-- Truncates the conversation after after_id; the rows stay for cost accounting.
UPDATE chat_messages SET deleted = true
WHERE chat_id = @chat_id::uuid AND id > @after_id::bigint AND NOT deleted;

-- name: SoftDeleteChatMessageByID :exec
-- authz: custom update on the message's chat
UPDATE chat_messages SET deleted = true
WHERE id = @id::bigint AND NOT deleted;

-- name: SoftDeleteContextFileMessages :exec
-- authz: update chat(chat_id)
-- Drops the persisted context files (instruction files) so they are read again.
UPDATE chat_messages SET deleted = true
WHERE chat_id = @chat_id::uuid
    AND content @> '[{"type": "context-file"}]'::jsonb
    AND NOT deleted;

-- name: GetChatUserPromptsByChatID :many
-- authz: read chat(chat_id)
-- Prompt history for the composer: the text parts of each live, user-visible user message
-- concatenated in part order, newest first. Whitespace-only prompts are skipped, and so are
-- legacy rows whose content is not a JSON array. limit 0 means 500.
SELECT m.id, string_agg(part ->> 'text', '' ORDER BY part_no) AS "text!"
FROM chat_messages AS m
    CROSS JOIN LATERAL jsonb_array_elements(m.content) WITH ORDINALITY AS p (part, part_no)
WHERE m.chat_id = @chat_id::uuid
    AND m.role = 'user'
    AND m.visibility IN ('user', 'both')
    AND NOT m.deleted
    AND jsonb_typeof(m.content) = 'array'
    AND part ->> 'type' = 'text'
GROUP BY m.id
HAVING string_agg(part ->> 'text', '') ~ '\S'
ORDER BY m.id DESC
LIMIT coalesce(nullif(@limit::int, 0), 500);
