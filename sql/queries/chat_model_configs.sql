-- Model configs (SPEC 4.7): the models admins offer, with their context limit, compaction
-- threshold and pricing (options.cost). Deleting is a soft delete (deleted, deleted_at): chats
-- and messages keep pointing at the row, and cost analytics keep its name. Every getter skips
-- deleted rows. At most one live row is the default (unique partial index
-- chat_model_configs_single_default); to move the default, run UnsetDefaultChatModelConfigs
-- then set the new one, in one transaction.

-- name: GetChatModelConfigByID :one
-- authz: deployment_config read
SELECT * FROM chat_model_configs WHERE id = @id AND NOT deleted;

-- name: GetDefaultChatModelConfig :one
-- authz: any_actor
-- The model a chat gets when none is chosen: a disabled default is no default (not found).
SELECT * FROM chat_model_configs WHERE is_default AND enabled AND NOT deleted;

-- name: GetChatModelConfigs :many
-- authz: deployment_config read
SELECT * FROM chat_model_configs
WHERE NOT deleted
ORDER BY provider, model, id;

-- name: GetEnabledChatModelConfigs :many
-- authz: deployment_config read
-- Usable models: enabled, not deleted, and their provider is configured and enabled.
SELECT cmc.*
FROM chat_model_configs AS cmc
JOIN chat_providers AS cp ON cp.provider = cmc.provider
WHERE cmc.enabled AND NOT cmc.deleted AND cp.enabled
ORDER BY cmc.provider, cmc.model, cmc.id;

-- name: CountEnabledModelsWithoutPricing :one
-- authz: deployment_config read
-- Enabled live models whose messages will be unpriced: options.cost sets none of the four
-- prices to a usable value (a non-negative JSON number or a decimal string, as chatdb.cost
-- reads them).
SELECT count(*) AS count
FROM chat_model_configs AS cmc
WHERE cmc.enabled
    AND NOT cmc.deleted
    AND NOT EXISTS (
        SELECT 1
        FROM jsonb_each(
            CASE
                WHEN jsonb_typeof(cmc.options -> 'cost') = 'object' THEN cmc.options -> 'cost'
                ELSE '{}'::jsonb
            END
        ) AS price (key, value)
        WHERE price.key IN (
                'input_price_per_million_tokens',
                'output_price_per_million_tokens',
                'cache_read_price_per_million_tokens',
                'cache_write_price_per_million_tokens'
            )
            AND CASE jsonb_typeof(price.value)
                WHEN 'number' THEN (price.value)::numeric >= 0
                WHEN 'string' THEN btrim(price.value #>> '{}') ~ '^[0-9]+(\.[0-9]+)?$'
                ELSE false
            END
    );

-- name: InsertChatModelConfig :one
-- authz: deployment_config update and is_actor(created_by) and is_actor(updated_by)
INSERT INTO chat_model_configs (
    provider,
    model,
    display_name,
    created_by,
    updated_by,
    enabled,
    is_default,
    context_limit,
    compression_threshold,
    options
) VALUES (
    @provider::text,
    @model::text,
    @display_name::text,
    sqlc.narg(created_by)::uuid,
    sqlc.narg(updated_by)::uuid,
    @enabled::boolean,
    @is_default::boolean,
    @context_limit::bigint,
    @compression_threshold::integer,
    @options::jsonb
)
RETURNING *;

-- name: UpdateChatModelConfig :one
-- authz: deployment_config update and is_actor(updated_by)
-- Full replace of a live config (a deleted one is not found); bumps updated_at.
UPDATE chat_model_configs
SET
    provider = @provider::text,
    model = @model::text,
    display_name = @display_name::text,
    updated_by = sqlc.narg(updated_by)::uuid,
    enabled = @enabled::boolean,
    is_default = @is_default::boolean,
    context_limit = @context_limit::bigint,
    compression_threshold = @compression_threshold::integer,
    options = @options::jsonb,
    updated_at = now()
WHERE id = @id AND NOT deleted
RETURNING *;

-- name: DeleteChatModelConfigByID :exec
-- authz: deployment_config update
-- Soft delete; deleting an already deleted config changes nothing (deleted_at is kept).
UPDATE chat_model_configs
SET deleted = true, deleted_at = now(), updated_at = now()
WHERE id = @id AND NOT deleted;

-- name: UnsetDefaultChatModelConfigs :exec
-- authz: deployment_config update
UPDATE chat_model_configs
SET is_default = false, updated_at = now()
WHERE is_default AND NOT deleted;
