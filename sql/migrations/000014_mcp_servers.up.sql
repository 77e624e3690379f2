-- Admin-managed MCP servers that chats can use (seed: "database schema, API endpoints ... for
-- admin-managed MCP server configurations"), per-user OAuth2 tokens for them, and the per-chat
-- selection chats.mcp_server_ids (no foreign key; dangling ids are cleaned up by a query).
-- Every secret column has a <secret>_key_id column naming the dbcrypt key that encrypts it
-- (NULL = stored in clear).

CREATE TABLE mcp_server_configs (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    display_name text NOT NULL,
    slug text NOT NULL,
    description text NOT NULL DEFAULT '',
    icon_url text NOT NULL DEFAULT '',
    transport text NOT NULL DEFAULT 'streamable_http',
    url text NOT NULL,
    auth_type text NOT NULL DEFAULT 'none',
    oauth2_client_id text NOT NULL DEFAULT '',
    oauth2_client_secret text NOT NULL DEFAULT '',
    oauth2_client_secret_key_id text,
    oauth2_auth_url text NOT NULL DEFAULT '',
    oauth2_token_url text NOT NULL DEFAULT '',
    oauth2_scopes text NOT NULL DEFAULT '',
    api_key_header text NOT NULL DEFAULT 'Authorization',
    api_key_value text NOT NULL DEFAULT '',
    api_key_value_key_id text,
    custom_headers text NOT NULL DEFAULT '{}',
    custom_headers_key_id text,
    tool_allow_list text[] NOT NULL DEFAULT '{}',
    tool_deny_list text[] NOT NULL DEFAULT '{}',
    availability text NOT NULL DEFAULT 'default_off',
    enabled boolean NOT NULL DEFAULT false,
    created_by uuid,
    updated_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mcp_server_configs_pkey PRIMARY KEY (id),
    CONSTRAINT mcp_server_configs_slug_key UNIQUE (slug),
    CONSTRAINT mcp_server_configs_oauth2_client_secret_key_id_fkey
        FOREIGN KEY (oauth2_client_secret_key_id) REFERENCES dbcrypt_keys (active_key_digest),
    CONSTRAINT mcp_server_configs_api_key_value_key_id_fkey
        FOREIGN KEY (api_key_value_key_id) REFERENCES dbcrypt_keys (active_key_digest),
    CONSTRAINT mcp_server_configs_custom_headers_key_id_fkey
        FOREIGN KEY (custom_headers_key_id) REFERENCES dbcrypt_keys (active_key_digest),
    CONSTRAINT mcp_server_configs_created_by_fkey
        FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT mcp_server_configs_updated_by_fkey
        FOREIGN KEY (updated_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT mcp_server_configs_transport_check CHECK (transport IN ('streamable_http', 'sse')),
    CONSTRAINT mcp_server_configs_auth_type_check
        CHECK (auth_type IN ('none', 'oauth2', 'api_key', 'custom_headers')),
    CONSTRAINT mcp_server_configs_availability_check
        CHECK (availability IN ('force_on', 'default_on', 'default_off'))
);

CREATE INDEX idx_mcp_server_configs_enabled ON mcp_server_configs (enabled) WHERE enabled;
CREATE INDEX idx_mcp_server_configs_forced
    ON mcp_server_configs (enabled, availability)
    WHERE enabled AND availability = 'force_on';

CREATE TABLE mcp_server_user_tokens (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    mcp_server_config_id uuid NOT NULL,
    user_id uuid NOT NULL,
    access_token text NOT NULL,
    access_token_key_id text,
    refresh_token text NOT NULL DEFAULT '',
    refresh_token_key_id text,
    token_type text NOT NULL DEFAULT 'Bearer',
    expiry timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mcp_server_user_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT mcp_server_user_tokens_mcp_server_config_id_user_id_key
        UNIQUE (mcp_server_config_id, user_id),
    CONSTRAINT mcp_server_user_tokens_mcp_server_config_id_fkey
        FOREIGN KEY (mcp_server_config_id) REFERENCES mcp_server_configs (id) ON DELETE CASCADE,
    CONSTRAINT mcp_server_user_tokens_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mcp_server_user_tokens_access_token_key_id_fkey
        FOREIGN KEY (access_token_key_id) REFERENCES dbcrypt_keys (active_key_digest),
    CONSTRAINT mcp_server_user_tokens_refresh_token_key_id_fkey
        FOREIGN KEY (refresh_token_key_id) REFERENCES dbcrypt_keys (active_key_digest)
);

CREATE INDEX idx_mcp_server_user_tokens_user_id ON mcp_server_user_tokens (user_id);

ALTER TABLE chats ADD COLUMN mcp_server_ids uuid[] NOT NULL DEFAULT '{}';
