-- name: InsertChatQueuedMessage :one
-- authz: update chat(chat_id)
-- Appends to the chat's queue; model_config_id is the model chosen at enqueue time.
INSERT INTO chat_queued_messages (chat_id, content, model_config_id)
VALUES (@chat_id::uuid, @content::jsonb, sqlc.narg(model_config_id)::uuid)
RETURNING *;

-- name: GetChatQueuedMessages :many
-- authz: read chat(chat_id)
-- The queue in FIFO order.
SELECT * FROM chat_queued_messages
WHERE chat_id = @chat_id::uuid
ORDER BY id;

-- name: DeleteChatQueuedMessage :exec
-- authz: update chat(chat_id)
-- Scoped to the chat: the id of another chat's queued message deletes nothing.
DELETE FROM chat_queued_messages
WHERE id = @id::bigint AND chat_id = @chat_id::uuid;

-- name: DeleteAllChatQueuedMessages :exec
-- authz: update chat(chat_id)
DELETE FROM chat_queued_messages
WHERE chat_id = @chat_id::uuid;

-- name: PopNextQueuedMessage :one
-- authz: update chat(chat_id)
-- Removes and returns the oldest queued message. SKIP LOCKED: two concurrent pops never get
-- the same row (the second takes the next one, or finds the queue empty).
DELETE FROM chat_queued_messages
WHERE id = (
    SELECT q.id FROM chat_queued_messages AS q
    WHERE q.chat_id = @chat_id::uuid
    ORDER BY q.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: QuarantineChatQueuedMessage :one
-- authz: update chat(chat_id)
-- Records a queued message that cannot be delivered (already removed from the queue) and
-- why; promotion then goes on with the next one.
INSERT INTO chat_queued_message_quarantine (id, chat_id, content, model_config_id, queued_at, reason)
VALUES (@id::bigint, @chat_id::uuid, @content::jsonb, sqlc.narg(model_config_id)::uuid,
        @queued_at::timestamptz, @reason::text)
RETURNING *;

-- name: GetChatQuarantinedQueuedMessages :many
-- authz: read chat(chat_id)
-- The chat's undeliverable queued messages, oldest first.
SELECT * FROM chat_queued_message_quarantine
WHERE chat_id = @chat_id::uuid
ORDER BY id;
