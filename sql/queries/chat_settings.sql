-- Per-user chat settings in user_configs and deployment-wide chat settings in site_configs
-- (SPEC 4.9). Values are text; each query casts to and from its type, so a setter only ever
-- stores a value its getter can read back. Getters of site settings always return one row: the
-- stored value or the documented default when the key was never set.
--
-- Keys:
--   user_configs  chat_compaction_threshold:<model_config_id>   integer percent, 0..100
--                 chat_custom_prompt                             text
--   site_configs  agents_chat_system_prompt                      text, default ''
--                 agents_include_default_system_prompt           boolean, default true
--                 agents_desktop_enabled                         boolean, default false
--                 agents_template_allowlist                      JSON array of template ids,
--                                                                default [] (= all allowed)
--                 agents_chat_workspace_ttl                      interval, default 0 (no TTL)
--                 agents_chat_retention_days                     integer, default 30 (0 = never)

-- name: ListUserChatCompactionThresholds :many
-- authz: personal read user(user_id)
-- The user's per-model compaction threshold overrides, by model config id. A malformed row
-- (written before user_configs_chat_compaction_threshold_check, or a key that names no UUID)
-- is skipped instead of failing the whole list; the WHERE runs before the casts.
SELECT
    substr(uc.key, length('chat_compaction_threshold:') + 1)::uuid AS model_config_id,
    uc.value::integer AS threshold_percent
FROM user_configs AS uc
WHERE uc.user_id = @user_id
    AND CASE
        WHEN uc.key !~ '^chat_compaction_threshold:[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'
            THEN false
        WHEN uc.value !~ '^[0-9]{1,3}$' THEN false
        ELSE uc.value::integer <= 100
    END
ORDER BY uc.key;

-- name: GetUserChatCompactionThreshold :one
-- authz: personal read user(user_id)
-- Not found when the user has no override for that model, or only a malformed one (the
-- model's own threshold then applies).
SELECT uc.value::integer AS threshold_percent
FROM user_configs AS uc
WHERE uc.user_id = @user_id
    AND uc.key = 'chat_compaction_threshold:' || @model_config_id::uuid::text
    AND CASE
        WHEN uc.value !~ '^[0-9]{1,3}$' THEN false
        ELSE uc.value::integer <= 100
    END;

-- name: UpdateUserChatCompactionThreshold :one
-- authz: personal update user(user_id) and waive(model_config_id: "only tests that the model is live, as IsChatModelConfigUsable tells any actor")
-- Sets the user's override for a model. A threshold outside 0..100 is refused by
-- user_configs_chat_compaction_threshold_check (CheckViolation, nothing written); the model
-- config must be live and enabled, otherwise nothing is written and the query finds no row
-- (NotFound).
INSERT INTO user_configs (user_id, key, value)
SELECT
    @user_id,
    'chat_compaction_threshold:' || mc.id::text,
    (@threshold_percent::integer)::text
FROM chat_model_configs AS mc
WHERE mc.id = @model_config_id AND mc.enabled AND NOT mc.deleted
ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value
RETURNING
    substr(key, length('chat_compaction_threshold:') + 1)::uuid AS model_config_id,
    value::integer AS threshold_percent;

-- name: DeleteUserChatCompactionThreshold :exec
-- authz: personal update user(user_id)
-- Idempotent: deleting a missing override is not an error.
DELETE FROM user_configs
WHERE user_id = @user_id
    AND key = 'chat_compaction_threshold:' || @model_config_id::uuid::text;

-- name: GetUserChatCustomPrompt :one
-- authz: personal read user(user_id)
-- The user's personal instructions; '' when never set.
SELECT coalesce(
    (
        SELECT uc.value FROM user_configs AS uc
        WHERE uc.user_id = @user_id AND uc.key = 'chat_custom_prompt'
    ),
    ''
) AS chat_custom_prompt;

-- name: UpdateUserChatCustomPrompt :one
-- authz: personal update user(user_id)
INSERT INTO user_configs (user_id, key, value)
VALUES (@user_id, 'chat_custom_prompt', @chat_custom_prompt::text)
ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value
RETURNING value AS chat_custom_prompt;

-- name: GetChatSystemPrompt :one
-- authz: any_actor
-- The deployment's custom system prompt; '' when none.
SELECT coalesce(
    (SELECT sc.value FROM site_configs AS sc WHERE sc.key = 'agents_chat_system_prompt'),
    ''
) AS chat_system_prompt;

-- name: UpsertChatSystemPrompt :exec
-- authz: deployment_config update
INSERT INTO site_configs (key, value)
VALUES ('agents_chat_system_prompt', @chat_system_prompt::text)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: GetChatIncludeDefaultSystemPrompt :one
-- authz: any_actor
-- Whether the built-in default system prompt precedes the custom one; true when never set.
SELECT coalesce(
    (
        SELECT sc.value::boolean FROM site_configs AS sc
        WHERE sc.key = 'agents_include_default_system_prompt'
    ),
    true
) AS include_default_system_prompt;

-- name: GetChatSystemPromptSettings :one
-- authz: any_actor
-- Both system prompt settings in one statement, for building a new chat's first messages. It
-- never fails on a malformed stored flag: include_default_system_prompt is NULL when the
-- stored value is not a boolean (the caller then falls back to the built-in default prompt
-- alone), true when never set.
SELECT
    coalesce(
        (SELECT sc.value FROM site_configs AS sc WHERE sc.key = 'agents_chat_system_prompt'),
        ''
    ) AS chat_system_prompt,
    (
        SELECT CASE
            WHEN sc.value IS NULL THEN true
            WHEN lower(btrim(sc.value)) IN ('t', 'true', 'y', 'yes', 'on', '1') THEN true
            WHEN lower(btrim(sc.value)) IN ('f', 'false', 'n', 'no', 'off', '0') THEN false
        END
        FROM (SELECT NULL::text AS value) AS missing
        LEFT JOIN site_configs AS sc ON sc.key = 'agents_include_default_system_prompt'
    ) AS "include_default_system_prompt?";

-- name: GetChatStartSettings :one
-- authz: any_actor and waive(model_config_id: "tells only whether a model can run, as IsChatModelConfigUsable tells any actor")
-- Everything creating a chat reads besides its input, in one statement (one round trip):
-- whether the model it names or inherits can run (false for NULL), the deployment's default
-- model (NULL when there is none or it is disabled), and both system prompt settings exactly
-- as GetChatSystemPromptSettings reads them (never failing on a malformed stored flag).
SELECT
    EXISTS (
        SELECT 1 FROM chat_model_configs AS mc
        WHERE mc.id = sqlc.narg(model_config_id)::uuid AND mc.enabled AND NOT mc.deleted
    ) AS model_usable,
    (
        SELECT mc.id FROM chat_model_configs AS mc
        WHERE mc.is_default AND mc.enabled AND NOT mc.deleted
    ) AS "default_model_config_id?",
    coalesce(
        (SELECT sc.value FROM site_configs AS sc WHERE sc.key = 'agents_chat_system_prompt'),
        ''
    ) AS chat_system_prompt,
    (
        SELECT CASE
            WHEN sc.value IS NULL THEN true
            WHEN lower(btrim(sc.value)) IN ('t', 'true', 'y', 'yes', 'on', '1') THEN true
            WHEN lower(btrim(sc.value)) IN ('f', 'false', 'n', 'no', 'off', '0') THEN false
        END
        FROM (SELECT NULL::text AS value) AS missing
        LEFT JOIN site_configs AS sc ON sc.key = 'agents_include_default_system_prompt'
    ) AS "include_default_system_prompt?";

-- name: UpsertChatIncludeDefaultSystemPrompt :exec
-- authz: deployment_config update
INSERT INTO site_configs (key, value)
VALUES (
    'agents_include_default_system_prompt',
    (@include_default_system_prompt::boolean)::text
)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: GetChatDesktopEnabled :one
-- authz: any_actor
-- Whether chats may drive a virtual desktop (computer use); false when never set.
SELECT coalesce(
    (SELECT sc.value::boolean FROM site_configs AS sc WHERE sc.key = 'agents_desktop_enabled'),
    false
) AS desktop_enabled;

-- name: UpsertChatDesktopEnabled :exec
-- authz: deployment_config update
INSERT INTO site_configs (key, value)
VALUES ('agents_desktop_enabled', (@desktop_enabled::boolean)::text)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: GetChatTemplateAllowlist :one
-- authz: any_actor
-- Template ids chats may use, in the stored order; empty = every template is allowed.
SELECT coalesce(
    (
        SELECT array(
            SELECT t.id::uuid
            FROM jsonb_array_elements_text(sc.value::jsonb) WITH ORDINALITY AS t (id, position)
            ORDER BY t.position
        )
        FROM site_configs AS sc
        WHERE sc.key = 'agents_template_allowlist'
    ),
    '{}'::uuid[]
) AS template_ids;

-- name: UpsertChatTemplateAllowlist :exec
-- authz: deployment_config update
-- Stored as a JSON array of ids (an empty array allows every template).
INSERT INTO site_configs (key, value)
VALUES ('agents_template_allowlist', to_jsonb(@template_ids::uuid[])::text)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: GetChatWorkspaceTTL :one
-- authz: any_actor
-- How long a workspace created by a chat lives; 0 (no TTL of its own) when never set.
SELECT coalesce(
    (
        SELECT sc.value::interval FROM site_configs AS sc
        WHERE sc.key = 'agents_chat_workspace_ttl'
    ),
    '0'::interval
) AS workspace_ttl;

-- name: UpsertChatWorkspaceTTL :exec
-- authz: deployment_config update
INSERT INTO site_configs (key, value)
VALUES ('agents_chat_workspace_ttl', (@workspace_ttl::interval)::text)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: GetChatRetentionDays :one
-- authz: any_actor
-- Days an archived chat is kept before DeleteOldChats purges it; 0 = never purge; 30 when
-- never set.
SELECT coalesce(
    (
        SELECT sc.value::integer FROM site_configs AS sc
        WHERE sc.key = 'agents_chat_retention_days'
    ),
    30
) AS retention_days;

-- name: UpsertChatRetentionDays :exec
-- authz: deployment_config update
-- days >= 0; the caller validates it (site_configs has no CHECK per key).
INSERT INTO site_configs (key, value)
VALUES ('agents_chat_retention_days', (@retention_days::integer)::text)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
