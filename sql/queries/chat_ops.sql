-- Lookups the workflows in chatdb.ops need (SPEC 5) that no other query file answers.

-- name: GetWorkspaceForChatBinding :one
-- authz: create chat(owner=owner_id, org=organization_id) and read workspace(workspace_id)
-- The live workspace a new chat of that owner in that organization may be bound to: not found
-- when the workspace is missing, deleted or in another organization (a chat never crosses
-- organizations). build_matches / agent_matches say whether the given build belongs to the
-- workspace and the agent to that build (true when not given); the name feeds the workspace
-- awareness message.
SELECT
    w.id,
    w.name,
    w.owner_id,
    w.owner_id = @owner_id::uuid AS owned_by_chat_owner,
    (
        sqlc.narg(build_id)::uuid IS NULL
        OR EXISTS (
            SELECT 1 FROM workspace_builds AS b
            WHERE b.id = sqlc.narg(build_id)::uuid AND b.workspace_id = w.id
        )
    ) AS build_matches,
    (
        sqlc.narg(agent_id)::uuid IS NULL
        OR EXISTS (
            SELECT 1
            FROM workspace_agents AS a
            JOIN workspace_builds AS b ON b.id = a.build_id
            WHERE a.id = sqlc.narg(agent_id)::uuid
                AND b.workspace_id = w.id
                AND (sqlc.narg(build_id)::uuid IS NULL OR a.build_id = sqlc.narg(build_id)::uuid)
        )
    ) AS agent_matches
FROM workspaces AS w
WHERE w.id = @workspace_id::uuid
    AND w.organization_id = @organization_id::uuid
    AND NOT w.deleted;

-- name: IsChatModelConfigUsable :one
-- authz: any_actor and waive(id: "tells only whether a model can run, which every chat user needs to pick one")
-- Whether a model config can run a turn: it exists, is enabled and is not deleted. Chat users
-- may ask (they pick models); reading the config itself needs deployment_config read.
SELECT EXISTS (
    SELECT 1 FROM chat_model_configs AS mc
    WHERE mc.id = @id::uuid AND mc.enabled AND NOT mc.deleted
) AS usable;

-- name: GetChatContextFileMessages :many
-- authz: read chat(chat_id)
-- The chat's live messages that carry workspace instruction files (a context-file part),
-- oldest first: what a sub-agent chat copies from its parent. Same predicate as
-- SoftDeleteContextFileMessages.
SELECT * FROM chat_messages
WHERE chat_id = @chat_id::uuid
    AND content @> '[{"type": "context-file"}]'::jsonb
    AND NOT deleted
ORDER BY id;

-- name: GetLatestWorkspaceAgentForChat :one
-- authz: read chat(chat_id)
-- The seed's "resolve the latest build's agent" lookup, for repairing a stale binding: the
-- latest build (highest build_number) of the workspace the chat is bound to, and that build's
-- first agent (oldest, then id). Not found when the chat has no workspace, or the workspace's
-- latest build has no agent.
SELECT b.id AS build_id, a.id AS agent_id
FROM chats AS c
JOIN LATERAL (
    SELECT wb.id
    FROM workspace_builds AS wb
    WHERE wb.workspace_id = c.workspace_id
    ORDER BY wb.build_number DESC
    LIMIT 1
) AS b ON true
JOIN LATERAL (
    SELECT wa.id
    FROM workspace_agents AS wa
    WHERE wa.build_id = b.id
    ORDER BY wa.created_at, wa.id
    LIMIT 1
) AS a ON true
WHERE c.id = @chat_id::uuid;
