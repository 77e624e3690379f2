-- The chat tables as they first shipped (seed: "feat: add experimental agents support",
-- migration 000422): chats, their messages, PR diff status, LLM providers, model configs and
-- queued messages. Later migrations evolve this shape; in particular chat_messages.role starts
-- as plain text here and becomes an enum in 000006. (The original also had a
-- chats.workspace_agent_id column that was dropped soon after; chatdb never had it.)

CREATE TYPE chat_status AS ENUM (
    'waiting',
    'pending',
    'running',
    'paused',
    'completed',
    'error'
);

CREATE TYPE chat_message_visibility AS ENUM ('user', 'model', 'both');

CREATE TABLE chats (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL,
    workspace_id uuid,
    title text NOT NULL DEFAULT 'New Chat',
    status chat_status NOT NULL DEFAULT 'waiting',
    worker_id uuid,
    started_at timestamptz,
    heartbeat_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    parent_chat_id uuid,
    root_chat_id uuid,
    last_model_config_id uuid NOT NULL,
    CONSTRAINT chats_pkey PRIMARY KEY (id),
    CONSTRAINT chats_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT chats_workspace_id_fkey
        FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE SET NULL,
    CONSTRAINT chats_parent_chat_id_fkey
        FOREIGN KEY (parent_chat_id) REFERENCES chats (id) ON DELETE SET NULL,
    CONSTRAINT chats_root_chat_id_fkey
        FOREIGN KEY (root_chat_id) REFERENCES chats (id) ON DELETE SET NULL
);

CREATE INDEX idx_chats_owner ON chats (owner_id);
CREATE INDEX idx_chats_workspace ON chats (workspace_id);
CREATE INDEX idx_chats_pending ON chats (status) WHERE status = 'pending';
CREATE INDEX idx_chats_parent_chat_id ON chats (parent_chat_id);
CREATE INDEX idx_chats_root_chat_id ON chats (root_chat_id);
CREATE INDEX idx_chats_last_model_config_id ON chats (last_model_config_id);

CREATE TABLE chat_messages (
    id bigserial NOT NULL,
    chat_id uuid NOT NULL,
    model_config_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    role text NOT NULL,
    content jsonb,
    visibility chat_message_visibility NOT NULL DEFAULT 'both',
    input_tokens bigint,
    output_tokens bigint,
    total_tokens bigint,
    reasoning_tokens bigint,
    cache_creation_tokens bigint,
    cache_read_tokens bigint,
    context_limit bigint,
    compressed boolean NOT NULL DEFAULT false,
    CONSTRAINT chat_messages_pkey PRIMARY KEY (id),
    CONSTRAINT chat_messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE
);

CREATE INDEX idx_chat_messages_chat ON chat_messages (chat_id);
CREATE INDEX idx_chat_messages_chat_created ON chat_messages (chat_id, created_at);
CREATE INDEX idx_chat_messages_compressed_summary_boundary
    ON chat_messages (chat_id, created_at DESC, id DESC)
    WHERE compressed = true AND role = 'system' AND visibility IN ('model', 'both');

CREATE TABLE chat_diff_statuses (
    chat_id uuid NOT NULL,
    url text,
    pull_request_state text,
    changes_requested boolean NOT NULL DEFAULT false,
    additions integer NOT NULL DEFAULT 0,
    deletions integer NOT NULL DEFAULT 0,
    changed_files integer NOT NULL DEFAULT 0,
    refreshed_at timestamptz,
    stale_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    git_branch text NOT NULL DEFAULT '',
    git_remote_origin text NOT NULL DEFAULT '',
    CONSTRAINT chat_diff_statuses_pkey PRIMARY KEY (chat_id),
    CONSTRAINT chat_diff_statuses_chat_id_fkey
        FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    CONSTRAINT chat_diff_statuses_pull_request_state_check
        CHECK (pull_request_state IN ('open', 'merged', 'closed'))
);

CREATE INDEX idx_chat_diff_statuses_stale_at ON chat_diff_statuses (stale_at);

CREATE TABLE chat_providers (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    provider text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    api_key text NOT NULL DEFAULT '',
    api_key_key_id text,
    created_by uuid,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    base_url text NOT NULL DEFAULT '',
    CONSTRAINT chat_providers_pkey PRIMARY KEY (id),
    CONSTRAINT chat_providers_provider_key UNIQUE (provider),
    CONSTRAINT chat_providers_api_key_key_id_fkey
        FOREIGN KEY (api_key_key_id) REFERENCES dbcrypt_keys (active_key_digest),
    CONSTRAINT chat_providers_created_by_fkey FOREIGN KEY (created_by) REFERENCES users (id),
    CONSTRAINT chat_providers_provider_check CHECK (
        provider IN (
            'anthropic',
            'azure',
            'bedrock',
            'google',
            'openai',
            'openai-compat',
            'openrouter',
            'vercel'
        )
    )
);

COMMENT ON COLUMN chat_providers.api_key_key_id IS
    'Digest of the dbcrypt key that encrypts api_key; NULL means api_key is stored in clear.';

CREATE INDEX idx_chat_providers_enabled ON chat_providers (enabled);

-- options holds provider options and, under "cost", the price per million tokens:
-- input_price_per_million_tokens, output_price_per_million_tokens,
-- cache_read_price_per_million_tokens, cache_write_price_per_million_tokens (decimal strings
-- or numbers, in dollars).
CREATE TABLE chat_model_configs (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    provider text NOT NULL,
    model text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    created_by uuid,
    updated_by uuid,
    enabled boolean NOT NULL DEFAULT true,
    is_default boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    context_limit bigint NOT NULL,
    compression_threshold integer NOT NULL,
    options jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT chat_model_configs_pkey PRIMARY KEY (id),
    CONSTRAINT chat_model_configs_created_by_fkey FOREIGN KEY (created_by) REFERENCES users (id),
    CONSTRAINT chat_model_configs_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES users (id),
    CONSTRAINT chat_model_configs_context_limit_check CHECK (context_limit > 0),
    CONSTRAINT chat_model_configs_compression_threshold_check
        CHECK (compression_threshold >= 0 AND compression_threshold <= 100)
);

CREATE INDEX idx_chat_model_configs_enabled ON chat_model_configs (enabled);
CREATE INDEX idx_chat_model_configs_provider ON chat_model_configs (provider);
CREATE INDEX idx_chat_model_configs_provider_model ON chat_model_configs (provider, model);

-- At most one live default model: a unique index over a constant, limited to live defaults.
CREATE UNIQUE INDEX chat_model_configs_single_default
    ON chat_model_configs ((1))
    WHERE is_default AND NOT deleted;

ALTER TABLE chat_messages
    ADD CONSTRAINT chat_messages_model_config_id_fkey
    FOREIGN KEY (model_config_id) REFERENCES chat_model_configs (id);

ALTER TABLE chats
    ADD CONSTRAINT chats_last_model_config_id_fkey
    FOREIGN KEY (last_model_config_id) REFERENCES chat_model_configs (id);

CREATE TABLE chat_queued_messages (
    id bigserial NOT NULL,
    chat_id uuid NOT NULL,
    content jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_queued_messages_pkey PRIMARY KEY (id),
    CONSTRAINT chat_queued_messages_chat_id_fkey
        FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE
);

CREATE INDEX idx_chat_queued_messages_chat_id ON chat_queued_messages (chat_id);
