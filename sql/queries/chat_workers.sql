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
-- against what it runs to notice chats taken over or finished elsewhere. Keeps updated_at.
UPDATE chats
SET heartbeat_at = @now::timestamptz
WHERE worker_id = @worker_id::uuid AND status = 'running'
RETURNING id;

-- name: GetStaleChats :many
-- authz: system read chat
-- Chats whose worker stopped heartbeating (a running chat that never heartbeated counts from
-- started_at, then updated_at), and requires_action chats left untouched since the threshold.
SELECT *
FROM chats
WHERE (
        status = 'running'
        AND COALESCE(heartbeat_at, started_at, updated_at) < @stale_threshold::timestamptz
    )
    OR (status = 'requires_action' AND updated_at < @stale_threshold::timestamptz)
ORDER BY updated_at, id;
