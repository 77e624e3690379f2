-- Chat spend limits (SPEC 4.8): one deployment-wide config row (chat_usage_limit_config, a
-- singleton), per-user overrides in users.chat_spend_limit_micros and per-group overrides in
-- groups.chat_spend_limit_micros (NULL = no override). Spend is the sum of priced message cost,
-- soft-deleted messages included (the money was spent), over [start, end) of
-- chat_messages.created_at. organization_id NULL means every organization.

-- name: GetChatUsageLimitConfig :one
-- authz: deployment_config read
SELECT * FROM chat_usage_limit_config WHERE singleton;

-- name: UpsertChatUsageLimitConfig :one
-- authz: deployment_config update
INSERT INTO chat_usage_limit_config (singleton, enabled, default_limit_micros, period)
VALUES (true, @enabled::boolean, @default_limit_micros::bigint, @period::text)
ON CONFLICT (singleton) DO UPDATE
SET
    enabled = excluded.enabled,
    default_limit_micros = excluded.default_limit_micros,
    period = excluded.period,
    updated_at = now()
RETURNING *;

-- name: ListChatUsageLimitOverrides :many
-- authz: deployment_config read
-- Users with a personal spend limit, by username.
SELECT
    u.id AS user_id,
    u.username,
    u.name,
    u.avatar_url,
    u.chat_spend_limit_micros AS "spend_limit_micros!"
FROM users AS u
WHERE u.chat_spend_limit_micros IS NOT NULL AND NOT u.deleted
ORDER BY u.username, u.id;

-- name: GetChatUsageLimitUserOverride :one
-- authz: deployment_config read and waive(user_id: "per-user overrides are deployment configuration, granted for every user by deployment_config")
-- Not found when the user has no override.
SELECT u.id AS user_id, u.chat_spend_limit_micros AS "spend_limit_micros!"
FROM users AS u
WHERE u.id = @user_id AND u.chat_spend_limit_micros IS NOT NULL;

-- name: UpsertChatUsageLimitUserOverride :one
-- authz: deployment_config update and waive(user_id: "per-user overrides are deployment configuration, granted for every user by deployment_config")
-- Sets the user's limit, > 0 (users_chat_spend_limit_micros_check); keeps users.updated_at.
-- Not found for an unknown user. (The value comes through a sub-select so that it is a required
-- argument: DeleteChatUsageLimitUserOverride is how an override is removed.)
UPDATE users AS u
SET chat_spend_limit_micros = new.limit_micros
FROM (SELECT @spend_limit_micros::bigint AS limit_micros) AS new
WHERE u.id = @user_id
RETURNING u.id AS user_id, u.chat_spend_limit_micros AS "spend_limit_micros!";

-- name: DeleteChatUsageLimitUserOverride :exec
-- authz: deployment_config update and waive(user_id: "per-user overrides are deployment configuration, granted for every user by deployment_config")
UPDATE users SET chat_spend_limit_micros = NULL WHERE id = @user_id;

-- name: ListChatUsageLimitGroupOverrides :many
-- authz: deployment_config read
-- Groups with a spend limit; member_count leaves out system users.
SELECT
    g.id AS group_id,
    g.organization_id,
    g.name AS group_name,
    g.display_name AS group_display_name,
    g.avatar_url AS group_avatar_url,
    g.chat_spend_limit_micros AS "spend_limit_micros!",
    (
        SELECT count(*)
        FROM group_members AS gm
        JOIN users AS u ON u.id = gm.user_id
        WHERE gm.group_id = g.id AND NOT u.is_system
    ) AS member_count
FROM groups AS g
WHERE g.chat_spend_limit_micros IS NOT NULL
ORDER BY g.name, g.id;

-- name: GetChatUsageLimitGroupOverride :one
-- authz: deployment_config read
-- Not found when the group has no override.
SELECT g.id AS group_id, g.chat_spend_limit_micros AS "spend_limit_micros!"
FROM groups AS g
WHERE g.id = @group_id AND g.chat_spend_limit_micros IS NOT NULL;

-- name: UpsertChatUsageLimitGroupOverride :one
-- authz: deployment_config update
-- Sets the group's limit, > 0 (groups_chat_spend_limit_micros_check); not found for an unknown
-- group. Same shape as UpsertChatUsageLimitUserOverride.
UPDATE groups AS g
SET chat_spend_limit_micros = new.limit_micros
FROM (SELECT @spend_limit_micros::bigint AS limit_micros) AS new
WHERE g.id = @group_id
RETURNING g.id AS group_id, g.chat_spend_limit_micros AS "spend_limit_micros!";

-- name: DeleteChatUsageLimitGroupOverride :exec
-- authz: deployment_config update
UPDATE groups SET chat_spend_limit_micros = NULL WHERE id = @group_id;

-- name: GetUserGroupSpendLimit :one
-- authz: read chat(owner=user_id, org=organization_id)
-- The lowest limit among the user's groups (only groups of that organization when given);
-- NULL when none of them has a limit. Always one row.
SELECT min(g.chat_spend_limit_micros) AS limit_micros
FROM group_members AS gm
JOIN groups AS g ON g.id = gm.group_id
WHERE gm.user_id = @user_id
    AND g.chat_spend_limit_micros IS NOT NULL
    AND (sqlc.narg(organization_id)::uuid IS NULL OR g.organization_id = sqlc.narg(organization_id));

-- name: ResolveUserChatSpendLimit :one
-- authz: read chat(owner=user_id, org=organization_id)
-- The limit that applies to the user and where it comes from, first match wins:
-- 'disabled' (limits are off; limit_micros NULL), 'user' (the user's override), 'group' (the
-- lowest limit of the user's groups, in that organization when given), 'default' (the config's
-- default_limit_micros). period is the config's period, so the caller can compute the window.
-- Always one row.
WITH group_limit AS (
    SELECT min(g.chat_spend_limit_micros) AS limit_micros
    FROM group_members AS gm
    JOIN groups AS g ON g.id = gm.group_id
    WHERE gm.user_id = @user_id
        AND g.chat_spend_limit_micros IS NOT NULL
        AND (
            sqlc.narg(organization_id)::uuid IS NULL
            OR g.organization_id = sqlc.narg(organization_id)
        )
),
user_limit AS (
    SELECT u.chat_spend_limit_micros AS limit_micros FROM users AS u WHERE u.id = @user_id
)
SELECT
    CASE
        WHEN NOT cfg.enabled THEN NULL
        WHEN (SELECT limit_micros FROM user_limit) IS NOT NULL
            THEN (SELECT limit_micros FROM user_limit)
        WHEN (SELECT limit_micros FROM group_limit) IS NOT NULL
            THEN (SELECT limit_micros FROM group_limit)
        ELSE cfg.default_limit_micros
    END AS limit_micros,
    CASE
        WHEN NOT cfg.enabled THEN 'disabled'
        WHEN (SELECT limit_micros FROM user_limit) IS NOT NULL THEN 'user'
        WHEN (SELECT limit_micros FROM group_limit) IS NOT NULL THEN 'group'
        ELSE 'default'
    END AS source,
    cfg.period
FROM chat_usage_limit_config AS cfg
WHERE cfg.singleton;

-- name: GetUserChatSpendInPeriod :one
-- authz: read chat(owner=user_id, org=organization_id)
-- Priced cost of the user's chats' messages created in [start, end), deleted ones included;
-- only chats of that organization when given. Always one row (0 when nothing was spent).
SELECT coalesce(sum(cm.total_cost_micros), 0)::bigint AS total_spend_micros
FROM chat_messages AS cm
JOIN chats AS c ON c.id = cm.chat_id
WHERE c.owner_id = @user_id
    AND cm.created_at >= @start::timestamptz
    AND cm.created_at < @end::timestamptz
    AND cm.total_cost_micros IS NOT NULL
    AND (sqlc.narg(organization_id)::uuid IS NULL OR c.organization_id = sqlc.narg(organization_id));
