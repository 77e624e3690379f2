-- Admin-managed MCP servers and per-user OAuth2 tokens for them (SPEC 4.7). Secret columns
-- (oauth2_client_secret, api_key_value, custom_headers, access_token, refresh_token) are written
-- as given: chatdb.dbcrypt encrypts them first and passes the digest of its key in the matching
-- <secret>_key_id column (NULL = stored in clear).

-- name: GetMCPServerConfigByID :one
-- authz: deployment_config read
SELECT * FROM mcp_server_configs WHERE id = @id;

-- name: GetMCPServerConfigBySlug :one
-- authz: deployment_config read
SELECT * FROM mcp_server_configs WHERE slug = @slug::text;

-- name: GetMCPServerConfigs :many
-- authz: deployment_config read
SELECT * FROM mcp_server_configs ORDER BY display_name, id;

-- name: GetEnabledMCPServerConfigs :many
-- authz: deployment_config read
SELECT * FROM mcp_server_configs WHERE enabled ORDER BY display_name, id;

-- name: GetMCPServerConfigsByIDs :many
-- authz: deployment_config read
-- Unknown ids are skipped (chats.mcp_server_ids has no foreign key).
SELECT * FROM mcp_server_configs
WHERE id = ANY(@ids::uuid[])
ORDER BY display_name, id;

-- name: GetForcedMCPServerConfigs :many
-- authz: deployment_config read
-- Enabled servers injected into every chat (availability force_on).
SELECT * FROM mcp_server_configs
WHERE enabled AND availability = 'force_on'
ORDER BY display_name, id;

-- name: InsertMCPServerConfig :one
-- authz: deployment_config update and is_actor(created_by)
INSERT INTO mcp_server_configs (
    display_name,
    slug,
    description,
    icon_url,
    transport,
    url,
    auth_type,
    oauth2_client_id,
    oauth2_client_secret,
    oauth2_client_secret_key_id,
    oauth2_auth_url,
    oauth2_token_url,
    oauth2_scopes,
    api_key_header,
    api_key_value,
    api_key_value_key_id,
    custom_headers,
    custom_headers_key_id,
    tool_allow_list,
    tool_deny_list,
    availability,
    enabled,
    model_intent,
    allow_in_plan_mode,
    created_by,
    updated_by
) VALUES (
    @display_name::text,
    @slug::text,
    @description::text,
    @icon_url::text,
    @transport::text,
    @url::text,
    @auth_type::text,
    @oauth2_client_id::text,
    @oauth2_client_secret::text,
    sqlc.narg(oauth2_client_secret_key_id)::text,
    @oauth2_auth_url::text,
    @oauth2_token_url::text,
    @oauth2_scopes::text,
    @api_key_header::text,
    @api_key_value::text,
    sqlc.narg(api_key_value_key_id)::text,
    @custom_headers::text,
    sqlc.narg(custom_headers_key_id)::text,
    @tool_allow_list::text[],
    @tool_deny_list::text[],
    @availability::text,
    @enabled::boolean,
    @model_intent::boolean,
    @allow_in_plan_mode::boolean,
    sqlc.narg(created_by)::uuid,
    sqlc.narg(created_by)::uuid
)
RETURNING *;

-- name: UpdateMCPServerConfig :one
-- authz: deployment_config update and is_actor(updated_by)
-- Full replace of every editable field; bumps updated_at. A NULL secret keeps the stored value
-- and its key id: changing other fields never needs the secret (which most actors may not read).
UPDATE mcp_server_configs
SET
    display_name = @display_name::text,
    slug = @slug::text,
    description = @description::text,
    icon_url = @icon_url::text,
    transport = @transport::text,
    url = @url::text,
    auth_type = @auth_type::text,
    oauth2_client_id = @oauth2_client_id::text,
    oauth2_client_secret = COALESCE(sqlc.narg(oauth2_client_secret)::text, oauth2_client_secret),
    oauth2_client_secret_key_id = CASE
        WHEN sqlc.narg(oauth2_client_secret)::text IS NULL THEN oauth2_client_secret_key_id
        ELSE sqlc.narg(oauth2_client_secret_key_id)::text
    END,
    oauth2_auth_url = @oauth2_auth_url::text,
    oauth2_token_url = @oauth2_token_url::text,
    oauth2_scopes = @oauth2_scopes::text,
    api_key_header = @api_key_header::text,
    api_key_value = COALESCE(sqlc.narg(api_key_value)::text, api_key_value),
    api_key_value_key_id = CASE
        WHEN sqlc.narg(api_key_value)::text IS NULL THEN api_key_value_key_id
        ELSE sqlc.narg(api_key_value_key_id)::text
    END,
    custom_headers = COALESCE(sqlc.narg(custom_headers)::text, custom_headers),
    custom_headers_key_id = CASE
        WHEN sqlc.narg(custom_headers)::text IS NULL THEN custom_headers_key_id
        ELSE sqlc.narg(custom_headers_key_id)::text
    END,
    tool_allow_list = @tool_allow_list::text[],
    tool_deny_list = @tool_deny_list::text[],
    availability = @availability::text,
    enabled = @enabled::boolean,
    model_intent = @model_intent::boolean,
    allow_in_plan_mode = @allow_in_plan_mode::boolean,
    updated_by = sqlc.narg(updated_by)::uuid,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: DeleteMCPServerConfigByID :exec
-- authz: deployment_config update
-- Its user tokens go with it (cascade); chats keep the dangling id until
-- CleanupDeletedMCPServerIDsFromChats runs.
DELETE FROM mcp_server_configs WHERE id = @id;

-- name: GetMCPServerUserToken :one
-- authz: personal read user(user_id) or deployment_config read and waive(mcp_server_config_id: "selects which of the user's tokens; the server's configuration is not read or changed") and waive(user_id: "deployment configuration admins manage every user's MCP tokens (the personal branch checks the user)")
SELECT * FROM mcp_server_user_tokens
WHERE mcp_server_config_id = @mcp_server_config_id AND user_id = @user_id;

-- name: GetMCPServerUserTokensByUserID :many
-- authz: personal read user(user_id) or deployment_config read and waive(user_id: "deployment configuration admins manage every user's MCP tokens (the personal branch checks the user)")
SELECT * FROM mcp_server_user_tokens
WHERE user_id = @user_id
ORDER BY created_at, id;

-- name: UpsertMCPServerUserToken :one
-- authz: personal update user(user_id) or deployment_config update and waive(mcp_server_config_id: "selects which of the user's tokens; the server's configuration is not read or changed") and waive(user_id: "deployment configuration admins manage every user's MCP tokens (the personal branch checks the user)")
-- One token per (server, user): a new grant replaces the old one and bumps updated_at.
INSERT INTO mcp_server_user_tokens (
    mcp_server_config_id,
    user_id,
    access_token,
    access_token_key_id,
    refresh_token,
    refresh_token_key_id,
    token_type,
    expiry
) VALUES (
    @mcp_server_config_id,
    @user_id,
    @access_token::text,
    sqlc.narg(access_token_key_id)::text,
    @refresh_token::text,
    sqlc.narg(refresh_token_key_id)::text,
    @token_type::text,
    sqlc.narg(expiry)::timestamptz
)
ON CONFLICT (mcp_server_config_id, user_id) DO UPDATE
SET
    access_token = excluded.access_token,
    access_token_key_id = excluded.access_token_key_id,
    refresh_token = excluded.refresh_token,
    refresh_token_key_id = excluded.refresh_token_key_id,
    token_type = excluded.token_type,
    expiry = excluded.expiry,
    updated_at = now()
RETURNING *;

-- name: DeleteMCPServerUserToken :exec
-- authz: personal update user(user_id) or deployment_config update and waive(mcp_server_config_id: "selects which of the user's tokens; the server's configuration is not read or changed") and waive(user_id: "deployment configuration admins manage every user's MCP tokens (the personal branch checks the user)")
DELETE FROM mcp_server_user_tokens
WHERE mcp_server_config_id = @mcp_server_config_id AND user_id = @user_id;

-- name: CleanupDeletedMCPServerIDsFromChats :exec
-- authz: system update chat
-- Drops ids of servers that no longer exist from every chat's selection, keeping the order of
-- the others; only chats holding such an id are written, and updated_at is kept.
UPDATE chats
SET mcp_server_ids = array(
    SELECT selected.id
    FROM unnest(chats.mcp_server_ids) WITH ORDINALITY AS selected (id, position)
    WHERE EXISTS (SELECT 1 FROM mcp_server_configs AS m WHERE m.id = selected.id)
    ORDER BY selected.position
)
WHERE EXISTS (
    SELECT 1
    FROM unnest(chats.mcp_server_ids) AS selected (id)
    WHERE NOT EXISTS (SELECT 1 FROM mcp_server_configs AS m WHERE m.id = selected.id)
);
