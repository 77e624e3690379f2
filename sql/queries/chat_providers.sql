-- LLM providers (SPEC 4.7): one row per provider kind, holding its API key and base URL.
-- api_key is written as the caller gives it: chatdb.dbcrypt encrypts it first and passes the
-- digest of the key it used as api_key_key_id (NULL = stored in clear).

-- name: GetChatProviderByID :one
-- authz: deployment_config read
SELECT * FROM chat_providers WHERE id = @id;

-- name: GetChatProviderByProvider :one
-- authz: deployment_config read
SELECT * FROM chat_providers WHERE provider = @provider::text;

-- name: GetChatProviders :many
-- authz: deployment_config read
SELECT * FROM chat_providers ORDER BY provider;

-- name: GetEnabledChatProviders :many
-- authz: deployment_config read
SELECT * FROM chat_providers WHERE enabled ORDER BY provider;

-- name: InsertChatProvider :one
-- authz: deployment_config update and is_actor(created_by)
INSERT INTO chat_providers (
    provider, display_name, api_key, api_key_key_id, base_url, enabled, created_by
) VALUES (
    @provider::text,
    @display_name::text,
    @api_key::text,
    sqlc.narg(api_key_key_id)::text,
    @base_url::text,
    @enabled::boolean,
    sqlc.narg(created_by)::uuid
)
RETURNING *;

-- name: UpdateChatProvider :one
-- authz: deployment_config update
-- Full replace of the editable fields (the provider kind is the row's identity); bumps
-- updated_at. A NULL api_key keeps the stored key and its key id: changing other fields never
-- needs the secret (which most actors may not read).
UPDATE chat_providers
SET
    display_name = @display_name::text,
    api_key = COALESCE(sqlc.narg(api_key)::text, api_key),
    api_key_key_id = CASE
        WHEN sqlc.narg(api_key)::text IS NULL THEN api_key_key_id
        ELSE sqlc.narg(api_key_key_id)::text
    END,
    base_url = @base_url::text,
    enabled = @enabled::boolean,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: DeleteChatProviderByID :exec
-- authz: deployment_config update
DELETE FROM chat_providers WHERE id = @id;
