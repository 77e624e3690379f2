-- Workers: acquiring pending chats, heartbeats, and recovery of abandoned ones (SPEC 4.4).

-- name: AcquireChats :many
-- authz: system update chat
-- Claims up to num_chats pending, non-archived chats, oldest updated_at first. SKIP LOCKED lets
-- concurrent workers claim disjoint sets without waiting on each other. Rows come back in no
-- particular order.
WITH claimable AS (
    SELECT id
    FROM chats
    WHERE status = 'pending' AND NOT archived
    ORDER BY updated_at, id
    LIMIT @num_chats::int
    FOR UPDATE SKIP LOCKED
)
UPDATE chats
SET status = 'running',
    worker_id = @worker_id,
    started_at = @started_at,
    heartbeat_at = @started_at,
    updated_at = @started_at
FROM claimable
WHERE chats.id = claimable.id
RETURNING chats.*;

-- name: UpdateChatHeartbeats :many
-- authz: system update chat
-- One statement for every running chat of the worker; the caller diffs the returned ids
-- against what it runs to notice chats taken over or finished elsewhere. It writes only the
-- narrow lease rows (a lease exists exactly while its chat runs, under that chat's worker:
-- migration 000040), never the chats row, so updated_at and chats.heartbeat_at stay.
UPDATE chat_leases
SET heartbeat_at = @now::timestamptz
WHERE worker_id = @worker_id::uuid
RETURNING chat_id AS id;

-- name: GetChatLeaseForUpdate :one
-- authz: update chat(chat_id)
-- The running chat's lease (its worker and live heartbeat), locked: stale recovery re-checks
-- it after locking the chat, so a heartbeat that committed after the scan wins, and one that
-- comes later waits and then finds the lease gone.
SELECT * FROM chat_leases WHERE chat_id = @chat_id FOR UPDATE;

-- name: GetStaleChats :many
-- authz: system read chat
-- Chats whose worker stopped heartbeating (the lease's heartbeat: it starts as the chat's
-- heartbeat_at, else started_at, else updated_at), and requires_action chats left untouched
-- since the threshold.
SELECT *
FROM chats
WHERE (
        status = 'running'
        AND id IN (
            SELECT chat_id FROM chat_leases WHERE heartbeat_at < @stale_threshold::timestamptz
        )
    )
    OR (status = 'requires_action' AND updated_at < @stale_threshold::timestamptz)
ORDER BY updated_at, id;
