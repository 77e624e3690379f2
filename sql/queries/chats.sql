-- Chats: the rows users see in their sidebar and workers run (SPEC 4.1).

-- name: InsertChat :one
-- authz: create chat(owner=owner_id, org=organization_id) and read workspace(workspace_id) and read chat(parent_chat_id) and read chat(root_chat_id) and waive(last_model_config_id: "a chat may name any model: naming one reads or changes nothing of its configuration")
-- Writes the row once, in its final create-time state (status is always explicit).
INSERT INTO chats (
    owner_id,
    organization_id,
    workspace_id,
    build_id,
    agent_id,
    parent_chat_id,
    root_chat_id,
    last_model_config_id,
    title,
    status,
    mode,
    plan_mode,
    client_type,
    mcp_server_ids,
    labels,
    dynamic_tools
) VALUES (
    @owner_id,
    @organization_id,
    sqlc.narg(workspace_id),
    sqlc.narg(build_id),
    sqlc.narg(agent_id),
    sqlc.narg(parent_chat_id),
    sqlc.narg(root_chat_id),
    @last_model_config_id,
    @title,
    @status,
    sqlc.narg(mode),
    sqlc.narg(plan_mode),
    @client_type,
    COALESCE(sqlc.narg(mcp_server_ids)::uuid[], '{}'),
    COALESCE(sqlc.narg(labels)::jsonb, '{}'),
    sqlc.narg(dynamic_tools)
)
RETURNING *;

-- name: GetChatByID :one
-- authz: fetch read chat
SELECT * FROM chats WHERE id = @id;

-- name: GetChatByIDForUpdate :one
-- authz: fetch read chat
-- Locks the row until the end of the caller's transaction.
SELECT * FROM chats WHERE id = @id FOR UPDATE;

-- name: GetChats :many
-- authz: sql_filter read chat
-- The chat list: root chats only, pinned first (by pin_order), then newest updated.
-- All four sort keys run DESC (pin_order is negated) so the keyset cursor is one row-value
-- comparison against the after_id row, and idx_chats_list(_by_owner) serves the order.
-- has_unread: a non-deleted assistant message past the read watermark (NULL counts as 0).
-- An after_id that no longer exists, or names a chat the actor may not read, yields an empty
-- page: the cursor row is read through the same authorization filter as the page (the inner
-- `chats` shadows the outer one, so the filter's chats.* columns are the cursor row's), so
-- nothing about an unreadable chat (its pin or update time) shapes the answer.
SELECT sqlc.embed(chats), unread.has_unread
FROM chats
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1
        FROM chat_messages m
        WHERE m.chat_id = chats.id
            AND m.role = 'assistant'
            AND NOT m.deleted
            AND m.id > COALESCE(chats.last_read_message_id, 0)
    ) AS has_unread
) AS unread
WHERE chats.parent_chat_id IS NULL
    AND (sqlc.narg(owner_id)::uuid IS NULL OR chats.owner_id = sqlc.narg(owner_id))
    AND (sqlc.narg(archived)::boolean IS NULL OR chats.archived = sqlc.narg(archived))
    AND (sqlc.narg(label_filter)::jsonb IS NULL OR chats.labels @> sqlc.narg(label_filter))
    AND (sqlc.narg(has_unread)::boolean IS NULL OR unread.has_unread = sqlc.narg(has_unread))
    AND (
        sqlc.narg(title_query)::text IS NULL
        OR strpos(lower(chats.title), lower(sqlc.narg(title_query))) > 0
    )
    AND (
        sqlc.narg(after_id)::uuid IS NULL
        OR ((chats.pin_order > 0), -chats.pin_order, chats.updated_at, chats.id) < (
            SELECT (chats.pin_order > 0), -chats.pin_order, chats.updated_at, chats.id
            FROM chats
            WHERE chats.id = sqlc.narg(after_id) AND /* authz:filter */ TRUE
        )
    )
    AND /* authz:filter */ TRUE
ORDER BY (chats.pin_order > 0) DESC, -chats.pin_order DESC, chats.updated_at DESC, chats.id DESC
OFFSET @offset
LIMIT COALESCE(NULLIF(@limit::int, 0), 50);

-- name: GetChildChatsByParentIDs :many
-- authz: post_filter read chat
-- Sub-agent chats of the given parents, newest first, with the same has_unread as GetChats.
SELECT sqlc.embed(chats), unread.has_unread
FROM chats
CROSS JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1
        FROM chat_messages m
        WHERE m.chat_id = chats.id
            AND m.role = 'assistant'
            AND NOT m.deleted
            AND m.id > COALESCE(chats.last_read_message_id, 0)
    ) AS has_unread
) AS unread
WHERE chats.parent_chat_id = ANY(@parent_ids::uuid[])
    AND (sqlc.narg(archived)::boolean IS NULL OR chats.archived = sqlc.narg(archived))
ORDER BY chats.created_at DESC, chats.id DESC;

-- name: GetChatsByWorkspaceIDs :many
-- authz: post_filter read chat
SELECT *
FROM chats
WHERE workspace_id = ANY(@ids::uuid[]) AND NOT archived
ORDER BY workspace_id, updated_at DESC, id DESC;

-- name: GetLatestChatIDsByWorkspaceIDs :many
-- authz: post_filter read chat
-- For each workspace, the most recently updated chat bound to it (archived or not);
-- owner_id and organization_id are there for the authorization filter.
SELECT DISTINCT ON (workspace_id) workspace_id AS "workspace_id!", id, owner_id, organization_id
FROM chats
WHERE workspace_id = ANY(@workspace_ids::uuid[])
ORDER BY workspace_id, updated_at DESC, id DESC;

-- name: GetActiveChatsByAgentID :many
-- authz: post_filter read chat
-- Non-archived chats bound to the agent that have not finished (completed/error excluded).
SELECT *
FROM chats
WHERE agent_id = @agent_id
    AND NOT archived
    AND status IN ('waiting', 'pending', 'running', 'paused', 'requires_action')
ORDER BY updated_at DESC, id DESC;

-- name: UpdateChatByID :one
-- authz: update chat(id)
-- NULL keeps the old value; labels are replaced whole, never merged.
UPDATE chats
SET title = COALESCE(sqlc.narg(title)::text, title),
    labels = COALESCE(sqlc.narg(labels)::jsonb, labels),
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateChatTitleByID :one
-- authz: update chat(id)
-- Automatic titles: renames without moving the chat in the list (keeps updated_at).
UPDATE chats SET title = @title WHERE id = @id RETURNING *;

-- name: UpdateChatStatus :one
-- authz: update chat(id)
-- NULLs clear: a released chat has no worker, a recovered chat no last_error.
UPDATE chats
SET status = @status,
    worker_id = sqlc.narg(worker_id),
    started_at = sqlc.narg(started_at),
    heartbeat_at = sqlc.narg(heartbeat_at),
    last_error = sqlc.narg(last_error),
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateChatStatusPreserveUpdatedAt :one
-- authz: update chat(id)
-- UpdateChatStatus where the caller decides updated_at.
UPDATE chats
SET status = @status,
    worker_id = sqlc.narg(worker_id),
    started_at = sqlc.narg(started_at),
    heartbeat_at = sqlc.narg(heartbeat_at),
    last_error = sqlc.narg(last_error),
    updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: UpdateChatLastModelConfigByID :one
-- authz: update chat(id) and waive(last_model_config_id: "a chat may name any model: naming one reads or changes nothing of its configuration")
-- Keeps updated_at.
UPDATE chats SET last_model_config_id = @last_model_config_id WHERE id = @id RETURNING *;

-- name: UpdateChatWorkspaceBinding :one
-- authz: update chat(id) and read workspace(workspace_id)
-- Overwrites all three (NULL unbinds).
UPDATE chats
SET workspace_id = sqlc.narg(workspace_id),
    build_id = sqlc.narg(build_id),
    agent_id = sqlc.narg(agent_id),
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateChatBuildAgentBinding :one
-- authz: update chat(id)
-- A new build/agent of the same workspace: workspace_id is kept.
UPDATE chats
SET build_id = sqlc.narg(build_id),
    agent_id = sqlc.narg(agent_id),
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateChatMCPServerIDs :one
-- authz: update chat(id)
UPDATE chats
SET mcp_server_ids = @mcp_server_ids::uuid[],
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateChatPlanModeByID :one
-- authz: update chat(id)
-- Keeps updated_at (NULL = normal mode).
UPDATE chats SET plan_mode = sqlc.narg(plan_mode) WHERE id = @id RETURNING *;

-- name: UpdateChatLastInjectedContext :one
-- authz: update chat(id)
-- Caches the injected context parts (context-file and skill parts) without their internal
-- fields, stripped here so no path can store them (seed: "Internal fields ... are stripped
-- at write time"; chatdb.content's INTERNAL_FIELDS: a context-file's content, os and
-- directory, a skill's directory). A skill keeps its meta_file. Keeps updated_at.
UPDATE chats
SET last_injected_context = CASE
    WHEN jsonb_typeof(sqlc.narg(last_injected_context)::jsonb) = 'array' THEN (
        SELECT coalesce(
            jsonb_agg(
                CASE
                    WHEN jsonb_typeof(p.part) <> 'object' THEN p.part
                    WHEN p.part ->> 'type' = 'context-file'
                        THEN p.part - ARRAY['content', 'os', 'directory']
                    WHEN p.part ->> 'type' = 'skill' THEN p.part - 'directory'
                    ELSE p.part
                END
                ORDER BY p.position
            ),
            '[]'::jsonb
        )
        FROM jsonb_array_elements(sqlc.narg(last_injected_context)::jsonb)
            WITH ORDINALITY AS p (part, position)
    )
    ELSE sqlc.narg(last_injected_context)::jsonb
END
WHERE id = @id
RETURNING *;

-- name: UpdateChatLastReadMessageID :exec
-- authz: update chat(id)
-- Moves the read watermark; keeps updated_at.
UPDATE chats SET last_read_message_id = @last_read_message_id WHERE id = @id;

-- name: ArchiveChatByID :many
-- authz: update chat(id)
-- Archives the chat and all its descendants (sub-agents at every depth, found through
-- parent_chat_id), so an archived chat never has a live descendant; archiving unpins. It also
-- stops whatever runs: a running or pending chat goes back to waiting with no worker, so the
-- worker's next UpdateChatHeartbeats no longer returns it (its signal to stop) and
-- AcquireChats never picks it up. Returns the affected rows, the target first.
WITH RECURSIVE family AS (
    SELECT c.id FROM chats AS c WHERE c.id = @id
    UNION
    SELECT c.id FROM chats AS c JOIN family AS f ON c.parent_chat_id = f.id
),
archived AS (
    UPDATE chats
    SET archived = true,
        pin_order = 0,
        updated_at = now(),
        status = CASE
            WHEN chats.status IN ('running', 'pending') THEN 'waiting'::chat_status
            ELSE chats.status
        END,
        worker_id = CASE WHEN chats.status IN ('running', 'pending') THEN NULL ELSE worker_id END,
        started_at = CASE WHEN chats.status IN ('running', 'pending') THEN NULL ELSE started_at END,
        heartbeat_at = CASE
            WHEN chats.status IN ('running', 'pending') THEN NULL ELSE heartbeat_at
        END
    FROM family
    WHERE chats.id = family.id
    RETURNING chats.*
)
SELECT * FROM archived
ORDER BY (id = @id) DESC, created_at, id;

-- name: UnarchiveChatByID :many
-- authz: update chat(id)
-- The reverse of ArchiveChatByID over the same family (the chat and its descendants); pin
-- order and run state are not restored. A chat whose parent is archived stays archived and
-- nothing is returned, so an archived parent never gets a live child back.
WITH RECURSIVE family AS (
    SELECT c.id
    FROM chats AS c
    WHERE c.id = @id
        AND NOT EXISTS (
            SELECT 1 FROM chats AS p WHERE p.id = c.parent_chat_id AND p.archived
        )
    UNION
    SELECT c.id FROM chats AS c JOIN family AS f ON c.parent_chat_id = f.id
),
unarchived AS (
    UPDATE chats
    SET archived = false, updated_at = now()
    FROM family
    WHERE chats.id = family.id
    RETURNING chats.*
)
SELECT * FROM unarchived
ORDER BY (id = @id) DESC, created_at, id;

-- name: LockChatOwnerPins :exec
-- authz: update chat(id)
-- Serializes every change to the pinned list of the chat's owner (pin, unpin, reorder,
-- archive): a transaction-scoped advisory lock keyed on the owner. The pin queries renumber
-- other chats of the owner from their snapshot, so two of them at once would hand out the
-- same position or write a position onto a chat archived meanwhile. Taken before any chat
-- row of that owner is locked, so the lock order is always owner's pins, then chat rows.
SELECT pg_advisory_xact_lock(hashtextextended('chatdb.pins:' || owner_id::text, 0))
FROM chats
WHERE id = @id;

-- name: PinChatByID :exec
-- authz: update chat(id)
-- Appends the chat to its owner's pins: the other pinned, non-archived chats are renumbered
-- 1..n in their displayed order (healing gaps and duplicates) and the target becomes n + 1.
-- Keeps updated_at.
WITH target AS (
    SELECT id, owner_id FROM chats WHERE id = @id
),
others AS (
    SELECT c.id, row_number() OVER (
        ORDER BY c.pin_order, c.updated_at DESC, c.id DESC
    )::int AS position
    FROM chats c
    JOIN target t ON c.owner_id = t.owner_id AND c.id <> t.id
    WHERE c.pin_order > 0 AND NOT c.archived
),
positions AS (
    SELECT id, position FROM others
    UNION ALL
    SELECT id, (SELECT count(*) FROM others)::int + 1 FROM target
)
UPDATE chats
SET pin_order = positions.position
FROM positions
WHERE chats.id = positions.id AND chats.pin_order <> positions.position;

-- name: UnpinChatByID :exec
-- authz: update chat(id)
-- Unpins the chat and closes the gap (the owner's other pins are renumbered 1..n, which also
-- heals gaps and duplicates). No-op when the chat is not pinned. Keeps updated_at.
WITH target AS (
    SELECT id, owner_id FROM chats WHERE id = @id AND pin_order > 0
),
others AS (
    SELECT c.id, row_number() OVER (
        ORDER BY c.pin_order, c.updated_at DESC, c.id DESC
    )::int AS position
    FROM chats c
    JOIN target t ON c.owner_id = t.owner_id AND c.id <> t.id
    WHERE c.pin_order > 0 AND NOT c.archived
),
positions AS (
    SELECT id, position FROM others
    UNION ALL
    SELECT id, 0 FROM target
)
UPDATE chats
SET pin_order = positions.position
FROM positions
WHERE chats.id = positions.id AND chats.pin_order <> positions.position;

-- name: UpdateChatPinOrder :exec
-- authz: update chat(id)
-- Moves a pinned chat to pin_order clamped to [1, pinned count]; the chats in between shift
-- by one and the owner's pins end up numbered 1..n. No-op when the chat is not pinned.
-- Keeps updated_at.
WITH target AS (
    SELECT id, owner_id FROM chats WHERE id = @id AND pin_order > 0 AND NOT archived
),
others AS (
    SELECT c.id, row_number() OVER (
        ORDER BY c.pin_order, c.updated_at DESC, c.id DESC
    )::int AS position
    FROM chats c
    JOIN target t ON c.owner_id = t.owner_id AND c.id <> t.id
    WHERE c.pin_order > 0 AND NOT c.archived
),
wanted AS (
    SELECT LEAST(GREATEST(@pin_order::int, 1), (SELECT count(*) FROM others)::int + 1) AS position
),
positions AS (
    SELECT o.id, CASE WHEN o.position < w.position THEN o.position ELSE o.position + 1 END
        AS position
    FROM others o CROSS JOIN wanted w
    UNION ALL
    SELECT t.id, w.position FROM target t CROSS JOIN wanted w
)
UPDATE chats
SET pin_order = positions.position
FROM positions
WHERE chats.id = positions.id AND chats.pin_order <> positions.position;

-- name: GetChatFamilyIDsByRootID :many
-- authz: read chat(id)
-- The root's id, then its descendants by creation.
SELECT id
FROM chats
WHERE id = @id OR root_chat_id = @id
ORDER BY (id = @id) DESC, created_at, id;
