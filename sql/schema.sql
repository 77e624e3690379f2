CREATE TYPE public.chat_client_type AS ENUM (
    'ui',
    'api'
);

CREATE TYPE public.chat_message_role AS ENUM (
    'system',
    'user',
    'assistant',
    'tool'
);

CREATE TYPE public.chat_message_visibility AS ENUM (
    'user',
    'model',
    'both'
);

CREATE TYPE public.chat_mode AS ENUM (
    'computer_use',
    'explore'
);

CREATE TYPE public.chat_plan_mode AS ENUM (
    'plan'
);

CREATE TYPE public.chat_status AS ENUM (
    'waiting',
    'pending',
    'running',
    'paused',
    'completed',
    'error',
    'requires_action'
);

CREATE TYPE public.user_status AS ENUM (
    'active',
    'suspended',
    'dormant'
);

CREATE FUNCTION public.chatdb_refuse_clear_secret() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    -- Arguments are (secret column, key id column) pairs.
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) END;
    secret text;
    key_id text;
    i int := 0;
BEGIN
    WHILE i < TG_NARGS LOOP
        secret := TG_ARGV[i];
        key_id := TG_ARGV[i + 1];
        IF new_row ->> key_id IS NULL
            AND new_row ->> secret <> ''
            AND (old_row IS NULL
                 OR old_row -> secret IS DISTINCT FROM new_row -> secret
                 OR old_row -> key_id IS DISTINCT FROM new_row -> key_id)
        THEN
            -- Key registration and rotation lock dbcrypt_keys in SHARE ROW EXCLUSIVE mode: this
            -- waits for them, so a clear write either sees the new key or commits before
            -- rotation scans for clear rows.
            LOCK TABLE dbcrypt_keys IN SHARE MODE;
            IF EXISTS (SELECT 1 FROM dbcrypt_keys WHERE active_key_digest IS NOT NULL) THEN
                RAISE EXCEPTION 'refusing to store %.% in clear: an active dbcrypt key exists',
                    TG_TABLE_NAME, secret
                    USING ERRCODE = 'SC001', TABLE = TG_TABLE_NAME, COLUMN = secret,
                          HINT = 'encrypt it with chatdb.dbcrypt and set ' || key_id;
            END IF;
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.chatdb_refuse_identity_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'the owner and organization of a % row never change', TG_TABLE_NAME
        USING ERRCODE = 'check_violation',
              TABLE = TG_TABLE_NAME,
              CONSTRAINT = TG_TABLE_NAME || '_identity_immutable';
END
$$;

CREATE FUNCTION public.chatdb_sync_chat_lease() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.status = 'running' THEN
        INSERT INTO chat_leases (chat_id, worker_id, heartbeat_at)
        VALUES (NEW.id, NEW.worker_id, COALESCE(NEW.heartbeat_at, NEW.started_at, NEW.updated_at))
        ON CONFLICT (chat_id) DO UPDATE
        SET worker_id = EXCLUDED.worker_id, heartbeat_at = EXCLUDED.heartbeat_at;
    ELSE
        DELETE FROM chat_leases WHERE chat_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TABLE public.chat_diff_statuses (
    chat_id uuid NOT NULL,
    url text,
    pull_request_state text,
    changes_requested boolean DEFAULT false NOT NULL,
    additions integer DEFAULT 0 NOT NULL,
    deletions integer DEFAULT 0 NOT NULL,
    changed_files integer DEFAULT 0 NOT NULL,
    refreshed_at timestamp with time zone,
    stale_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    git_branch text DEFAULT ''::text NOT NULL,
    git_remote_origin text DEFAULT ''::text NOT NULL,
    pull_request_title text DEFAULT ''::text NOT NULL,
    pull_request_draft boolean DEFAULT false NOT NULL,
    author_login text,
    author_avatar_url text,
    base_branch text,
    pr_number integer,
    commits integer,
    approved boolean,
    reviewer_count integer,
    head_branch text,
    CONSTRAINT chat_diff_statuses_pull_request_state_check CHECK ((pull_request_state = ANY (ARRAY['open'::text, 'merged'::text, 'closed'::text])))
);

CREATE TABLE public.chat_file_links (
    chat_id uuid NOT NULL,
    file_id uuid NOT NULL
);

CREATE TABLE public.chat_files (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    mimetype text NOT NULL,
    data bytea NOT NULL
);

CREATE TABLE public.chat_leases (
    chat_id uuid NOT NULL,
    worker_id uuid,
    heartbeat_at timestamp with time zone NOT NULL
)
WITH (fillfactor='50');

CREATE TABLE public.chat_messages (
    id bigint NOT NULL,
    chat_id uuid NOT NULL,
    model_config_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    role public.chat_message_role NOT NULL,
    content jsonb,
    visibility public.chat_message_visibility DEFAULT 'both'::public.chat_message_visibility NOT NULL,
    input_tokens bigint,
    output_tokens bigint,
    total_tokens bigint,
    reasoning_tokens bigint,
    cache_creation_tokens bigint,
    cache_read_tokens bigint,
    context_limit bigint,
    compressed boolean DEFAULT false NOT NULL,
    created_by uuid,
    content_version smallint NOT NULL,
    total_cost_micros bigint,
    deleted boolean DEFAULT false NOT NULL,
    runtime_ms bigint,
    provider_response_id text,
    CONSTRAINT chat_messages_cost_not_negative_check CHECK ((total_cost_micros >= 0)),
    CONSTRAINT chat_messages_usage_not_negative_check CHECK (((input_tokens >= 0) AND (output_tokens >= 0) AND (total_tokens >= 0) AND (reasoning_tokens >= 0) AND (cache_creation_tokens >= 0) AND (cache_read_tokens >= 0) AND (context_limit >= 0) AND (runtime_ms >= 0)))
);

CREATE SEQUENCE public.chat_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.chat_messages_id_seq OWNED BY public.chat_messages.id;

CREATE TABLE public.chat_model_configs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    provider text NOT NULL,
    model text NOT NULL,
    display_name text DEFAULT ''::text NOT NULL,
    created_by uuid,
    updated_by uuid,
    enabled boolean DEFAULT true NOT NULL,
    is_default boolean DEFAULT false NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    deleted_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    context_limit bigint NOT NULL,
    compression_threshold integer NOT NULL,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT chat_model_configs_compression_threshold_check CHECK (((compression_threshold >= 0) AND (compression_threshold <= 100))),
    CONSTRAINT chat_model_configs_context_limit_check CHECK ((context_limit > 0))
);

CREATE TABLE public.chat_providers (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    provider text NOT NULL,
    display_name text DEFAULT ''::text NOT NULL,
    api_key text DEFAULT ''::text NOT NULL,
    api_key_key_id text,
    created_by uuid,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    base_url text DEFAULT ''::text NOT NULL,
    CONSTRAINT chat_providers_provider_check CHECK ((provider = ANY (ARRAY['anthropic'::text, 'azure'::text, 'bedrock'::text, 'google'::text, 'openai'::text, 'openai-compat'::text, 'openrouter'::text, 'vercel'::text])))
);

COMMENT ON COLUMN public.chat_providers.api_key_key_id IS 'Digest of the dbcrypt key that encrypts api_key; NULL means api_key is stored in clear.';

CREATE TABLE public.chat_queued_message_quarantine (
    id bigint NOT NULL,
    chat_id uuid NOT NULL,
    content jsonb NOT NULL,
    model_config_id uuid,
    queued_at timestamp with time zone NOT NULL,
    reason text NOT NULL,
    quarantined_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.chat_queued_messages (
    id bigint NOT NULL,
    chat_id uuid NOT NULL,
    content jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    model_config_id uuid
);

CREATE SEQUENCE public.chat_queued_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.chat_queued_messages_id_seq OWNED BY public.chat_queued_messages.id;

CREATE TABLE public.chat_usage_limit_config (
    singleton boolean DEFAULT true NOT NULL,
    enabled boolean DEFAULT false NOT NULL,
    default_limit_micros bigint DEFAULT 0 NOT NULL,
    period text DEFAULT 'month'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT chat_usage_limit_config_default_limit_micros_check CHECK ((default_limit_micros >= 0)),
    CONSTRAINT chat_usage_limit_config_period_check CHECK ((period = ANY (ARRAY['day'::text, 'week'::text, 'month'::text]))),
    CONSTRAINT chat_usage_limit_config_singleton_check CHECK (singleton)
);

CREATE TABLE public.chats (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    owner_id uuid NOT NULL,
    workspace_id uuid,
    title text DEFAULT 'New Chat'::text NOT NULL,
    status public.chat_status DEFAULT 'waiting'::public.chat_status NOT NULL,
    worker_id uuid,
    started_at timestamp with time zone,
    heartbeat_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    parent_chat_id uuid,
    root_chat_id uuid,
    last_model_config_id uuid NOT NULL,
    archived boolean DEFAULT false NOT NULL,
    last_error text,
    mode public.chat_mode,
    last_read_message_id bigint,
    mcp_server_ids uuid[] DEFAULT '{}'::uuid[] NOT NULL,
    labels jsonb DEFAULT '{}'::jsonb NOT NULL,
    build_id uuid,
    agent_id uuid,
    pin_order integer DEFAULT 0 NOT NULL,
    last_injected_context jsonb,
    dynamic_tools jsonb,
    plan_mode public.chat_plan_mode,
    organization_id uuid NOT NULL,
    client_type public.chat_client_type DEFAULT 'api'::public.chat_client_type NOT NULL,
    CONSTRAINT chats_labels_object_check CHECK ((jsonb_typeof(labels) = 'object'::text)),
    CONSTRAINT chats_pin_order_check CHECK ((pin_order >= 0)),
    CONSTRAINT chats_pin_order_not_archived_check CHECK (((pin_order = 0) OR (NOT archived))),
    CONSTRAINT chats_pin_order_root_only_check CHECK (((pin_order = 0) OR (parent_chat_id IS NULL)))
)
WITH (fillfactor='80');

CREATE TABLE public.dbcrypt_keys (
    number integer NOT NULL,
    active_key_digest text,
    revoked_key_digest text,
    test text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone
);

CREATE TABLE public.group_members (
    user_id uuid NOT NULL,
    group_id uuid NOT NULL
);

CREATE TABLE public.groups (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    name text NOT NULL,
    display_name text DEFAULT ''::text NOT NULL,
    avatar_url text DEFAULT ''::text NOT NULL,
    chat_spend_limit_micros bigint,
    CONSTRAINT groups_chat_spend_limit_micros_check CHECK (((chat_spend_limit_micros IS NULL) OR (chat_spend_limit_micros > 0)))
);

CREATE TABLE public.mcp_server_configs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    display_name text NOT NULL,
    slug text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    icon_url text DEFAULT ''::text NOT NULL,
    transport text DEFAULT 'streamable_http'::text NOT NULL,
    url text NOT NULL,
    auth_type text DEFAULT 'none'::text NOT NULL,
    oauth2_client_id text DEFAULT ''::text NOT NULL,
    oauth2_client_secret text DEFAULT ''::text NOT NULL,
    oauth2_client_secret_key_id text,
    oauth2_auth_url text DEFAULT ''::text NOT NULL,
    oauth2_token_url text DEFAULT ''::text NOT NULL,
    oauth2_scopes text DEFAULT ''::text NOT NULL,
    api_key_header text DEFAULT 'Authorization'::text NOT NULL,
    api_key_value text DEFAULT ''::text NOT NULL,
    api_key_value_key_id text,
    custom_headers text DEFAULT '{}'::text NOT NULL,
    custom_headers_key_id text,
    tool_allow_list text[] DEFAULT '{}'::text[] NOT NULL,
    tool_deny_list text[] DEFAULT '{}'::text[] NOT NULL,
    availability text DEFAULT 'default_off'::text NOT NULL,
    enabled boolean DEFAULT false NOT NULL,
    created_by uuid,
    updated_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    model_intent boolean DEFAULT false NOT NULL,
    allow_in_plan_mode boolean DEFAULT false NOT NULL,
    CONSTRAINT mcp_server_configs_auth_type_check CHECK ((auth_type = ANY (ARRAY['none'::text, 'oauth2'::text, 'api_key'::text, 'custom_headers'::text]))),
    CONSTRAINT mcp_server_configs_availability_check CHECK ((availability = ANY (ARRAY['force_on'::text, 'default_on'::text, 'default_off'::text]))),
    CONSTRAINT mcp_server_configs_transport_check CHECK ((transport = ANY (ARRAY['streamable_http'::text, 'sse'::text])))
);

CREATE TABLE public.mcp_server_user_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    mcp_server_config_id uuid NOT NULL,
    user_id uuid NOT NULL,
    access_token text NOT NULL,
    access_token_key_id text,
    refresh_token text DEFAULT ''::text NOT NULL,
    refresh_token_key_id text,
    token_type text DEFAULT 'Bearer'::text NOT NULL,
    expiry timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.organization_members (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.organizations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    display_name text DEFAULT ''::text NOT NULL,
    is_default boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.site_configs (
    key character varying(256) NOT NULL,
    value text NOT NULL
);

CREATE TABLE public.user_configs (
    user_id uuid NOT NULL,
    key character varying(256) NOT NULL,
    value text NOT NULL
);

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    username text NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    avatar_url text DEFAULT ''::text NOT NULL,
    status public.user_status DEFAULT 'active'::public.user_status NOT NULL,
    rbac_roles text[] DEFAULT '{}'::text[] NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    is_system boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    chat_spend_limit_micros bigint,
    CONSTRAINT users_chat_spend_limit_micros_check CHECK (((chat_spend_limit_micros IS NULL) OR (chat_spend_limit_micros > 0)))
);

CREATE TABLE public.workspace_agents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    build_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.workspace_builds (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id uuid NOT NULL,
    build_number integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.workspaces (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    name text NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.chat_messages ALTER COLUMN id SET DEFAULT nextval('public.chat_messages_id_seq'::regclass);

ALTER TABLE ONLY public.chat_queued_messages ALTER COLUMN id SET DEFAULT nextval('public.chat_queued_messages_id_seq'::regclass);

ALTER TABLE ONLY public.chat_diff_statuses
    ADD CONSTRAINT chat_diff_statuses_pkey PRIMARY KEY (chat_id);

ALTER TABLE ONLY public.chat_file_links
    ADD CONSTRAINT chat_file_links_chat_id_file_id_key UNIQUE (chat_id, file_id);

ALTER TABLE public.chat_files
    ADD CONSTRAINT chat_files_data_size_check CHECK ((octet_length(data) <= 104857600)) NOT VALID;

ALTER TABLE ONLY public.chat_files
    ADD CONSTRAINT chat_files_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_leases
    ADD CONSTRAINT chat_leases_pkey PRIMARY KEY (chat_id);

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_model_configs
    ADD CONSTRAINT chat_model_configs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_providers
    ADD CONSTRAINT chat_providers_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_providers
    ADD CONSTRAINT chat_providers_provider_key UNIQUE (provider);

ALTER TABLE ONLY public.chat_queued_message_quarantine
    ADD CONSTRAINT chat_queued_message_quarantine_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_queued_messages
    ADD CONSTRAINT chat_queued_messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.chat_usage_limit_config
    ADD CONSTRAINT chat_usage_limit_config_singleton_key UNIQUE (singleton);

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_id_owner_id_organization_id_key UNIQUE (id, owner_id, organization_id);

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.dbcrypt_keys
    ADD CONSTRAINT dbcrypt_keys_active_key_digest_key UNIQUE (active_key_digest);

ALTER TABLE ONLY public.dbcrypt_keys
    ADD CONSTRAINT dbcrypt_keys_pkey PRIMARY KEY (number);

ALTER TABLE ONLY public.dbcrypt_keys
    ADD CONSTRAINT dbcrypt_keys_revoked_key_digest_key UNIQUE (revoked_key_digest);

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_user_id_group_id_key UNIQUE (user_id, group_id);

ALTER TABLE ONLY public.groups
    ADD CONSTRAINT groups_organization_id_name_key UNIQUE (organization_id, name);

ALTER TABLE ONLY public.groups
    ADD CONSTRAINT groups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_slug_key UNIQUE (slug);

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_mcp_server_config_id_user_id_key UNIQUE (mcp_server_config_id, user_id);

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_pkey PRIMARY KEY (organization_id, user_id);

ALTER TABLE ONLY public.organizations
    ADD CONSTRAINT organizations_name_key UNIQUE (name);

ALTER TABLE ONLY public.organizations
    ADD CONSTRAINT organizations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.site_configs
    ADD CONSTRAINT site_configs_key_key UNIQUE (key);

ALTER TABLE public.user_configs
    ADD CONSTRAINT user_configs_chat_compaction_threshold_check CHECK (
CASE
    WHEN ((key)::text !~~ 'chat_compaction_threshold:%'::text) THEN true
    WHEN (value !~ '^[0-9]{1,3}$'::text) THEN false
    ELSE ((value)::integer <= 100)
END) NOT VALID;

ALTER TABLE ONLY public.user_configs
    ADD CONSTRAINT user_configs_pkey PRIMARY KEY (user_id, key);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.workspace_agents
    ADD CONSTRAINT workspace_agents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.workspace_builds
    ADD CONSTRAINT workspace_builds_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.workspace_builds
    ADD CONSTRAINT workspace_builds_workspace_id_build_number_key UNIQUE (workspace_id, build_number);

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_id_organization_id_key UNIQUE (id, organization_id);

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_pkey PRIMARY KEY (id);

CREATE INDEX chat_leases_worker_id_idx ON public.chat_leases USING btree (worker_id);

CREATE UNIQUE INDEX chat_model_configs_single_default ON public.chat_model_configs USING btree ((1)) WHERE (is_default AND (NOT deleted));

CREATE INDEX idx_chat_diff_statuses_stale_at ON public.chat_diff_statuses USING btree (stale_at);

CREATE INDEX idx_chat_file_links_file_id ON public.chat_file_links USING btree (file_id);

CREATE INDEX idx_chat_files_created_at ON public.chat_files USING btree (created_at);

CREATE INDEX idx_chat_files_org ON public.chat_files USING btree (organization_id);

CREATE INDEX idx_chat_files_owner ON public.chat_files USING btree (owner_id);

CREATE INDEX idx_chat_messages_chat_created ON public.chat_messages USING btree (chat_id, created_at);

CREATE INDEX idx_chat_messages_chat_id_id ON public.chat_messages USING btree (chat_id, id);

CREATE INDEX idx_chat_messages_compressed_summary ON public.chat_messages USING btree (chat_id, id DESC) WHERE (compressed AND (visibility = 'model'::public.chat_message_visibility) AND (NOT deleted));

CREATE INDEX idx_chat_messages_created_at ON public.chat_messages USING btree (created_at);

CREATE INDEX idx_chat_messages_owner_spend ON public.chat_messages USING btree (chat_id, created_at) WHERE (total_cost_micros IS NOT NULL);

CREATE INDEX idx_chat_messages_unread ON public.chat_messages USING btree (chat_id, id) WHERE ((role = 'assistant'::public.chat_message_role) AND (NOT deleted));

CREATE INDEX idx_chat_model_configs_enabled ON public.chat_model_configs USING btree (enabled);

CREATE INDEX idx_chat_model_configs_provider ON public.chat_model_configs USING btree (provider);

CREATE INDEX idx_chat_model_configs_provider_model ON public.chat_model_configs USING btree (provider, model);

CREATE INDEX idx_chat_providers_enabled ON public.chat_providers USING btree (enabled);

CREATE INDEX idx_chat_queued_message_quarantine_chat_id ON public.chat_queued_message_quarantine USING btree (chat_id);

CREATE INDEX idx_chat_queued_messages_chat_id ON public.chat_queued_messages USING btree (chat_id);

CREATE INDEX idx_chats_agent_id ON public.chats USING btree (agent_id) WHERE (agent_id IS NOT NULL);

CREATE INDEX idx_chats_archived_updated_at ON public.chats USING btree (updated_at) WHERE archived;

CREATE INDEX idx_chats_labels ON public.chats USING gin (labels);

CREATE INDEX idx_chats_last_model_config_id ON public.chats USING btree (last_model_config_id);

CREATE INDEX idx_chats_list ON public.chats USING btree (((pin_order > 0)) DESC, ((- pin_order)) DESC, updated_at DESC, id DESC) WHERE (parent_chat_id IS NULL);

CREATE INDEX idx_chats_list_by_owner ON public.chats USING btree (owner_id, ((pin_order > 0)) DESC, ((- pin_order)) DESC, updated_at DESC, id DESC) WHERE (parent_chat_id IS NULL);

CREATE INDEX idx_chats_organization_id ON public.chats USING btree (organization_id);

CREATE INDEX idx_chats_owner ON public.chats USING btree (owner_id);

CREATE INDEX idx_chats_parent_chat_id ON public.chats USING btree (parent_chat_id);

CREATE INDEX idx_chats_pending ON public.chats USING btree (updated_at) WHERE (status = 'pending'::public.chat_status);

CREATE INDEX idx_chats_pinned_by_owner ON public.chats USING btree (owner_id) WHERE (pin_order > 0);

CREATE INDEX idx_chats_root_chat_id ON public.chats USING btree (root_chat_id);

CREATE INDEX idx_chats_workspace ON public.chats USING btree (workspace_id);

CREATE INDEX idx_group_members_group_id ON public.group_members USING btree (group_id);

CREATE INDEX idx_mcp_server_configs_enabled ON public.mcp_server_configs USING btree (enabled) WHERE enabled;

CREATE INDEX idx_mcp_server_configs_forced ON public.mcp_server_configs USING btree (enabled, availability) WHERE (enabled AND (availability = 'force_on'::text));

CREATE INDEX idx_mcp_server_user_tokens_user_id ON public.mcp_server_user_tokens USING btree (user_id);

CREATE INDEX idx_organization_members_user_id ON public.organization_members USING btree (user_id);

CREATE INDEX idx_workspace_agents_build_id ON public.workspace_agents USING btree (build_id);

CREATE INDEX idx_workspaces_organization_id ON public.workspaces USING btree (organization_id);

CREATE INDEX idx_workspaces_owner_id ON public.workspaces USING btree (owner_id);

CREATE UNIQUE INDEX organizations_single_default ON public.organizations USING btree (is_default) WHERE is_default;

CREATE UNIQUE INDEX users_email_unique ON public.users USING btree (email) WHERE (NOT deleted);

CREATE UNIQUE INDEX users_username_unique ON public.users USING btree (username) WHERE (NOT deleted);

CREATE STATISTICS public.chats_owner_organization (mcv) ON owner_id, organization_id FROM public.chats;

CREATE TRIGGER chat_files_identity_immutable BEFORE UPDATE OF owner_id, organization_id ON public.chat_files FOR EACH ROW WHEN (((old.owner_id IS DISTINCT FROM new.owner_id) OR (old.organization_id IS DISTINCT FROM new.organization_id))) EXECUTE FUNCTION public.chatdb_refuse_identity_change();

CREATE TRIGGER chat_providers_refuse_clear_secret BEFORE INSERT OR UPDATE ON public.chat_providers FOR EACH ROW EXECUTE FUNCTION public.chatdb_refuse_clear_secret('api_key', 'api_key_key_id');

CREATE TRIGGER chats_identity_immutable BEFORE UPDATE OF owner_id, organization_id ON public.chats FOR EACH ROW WHEN (((old.owner_id IS DISTINCT FROM new.owner_id) OR (old.organization_id IS DISTINCT FROM new.organization_id))) EXECUTE FUNCTION public.chatdb_refuse_identity_change();

CREATE TRIGGER chats_lease_on_insert AFTER INSERT ON public.chats FOR EACH ROW WHEN ((new.status = 'running'::public.chat_status)) EXECUTE FUNCTION public.chatdb_sync_chat_lease();

CREATE TRIGGER chats_lease_on_update AFTER UPDATE OF status, worker_id, started_at, heartbeat_at ON public.chats FOR EACH ROW WHEN (((old.status IS DISTINCT FROM new.status) OR (old.worker_id IS DISTINCT FROM new.worker_id) OR (old.started_at IS DISTINCT FROM new.started_at) OR (old.heartbeat_at IS DISTINCT FROM new.heartbeat_at))) EXECUTE FUNCTION public.chatdb_sync_chat_lease();

CREATE TRIGGER mcp_server_configs_refuse_clear_secret BEFORE INSERT OR UPDATE ON public.mcp_server_configs FOR EACH ROW EXECUTE FUNCTION public.chatdb_refuse_clear_secret('oauth2_client_secret', 'oauth2_client_secret_key_id', 'api_key_value', 'api_key_value_key_id', 'custom_headers', 'custom_headers_key_id');

CREATE TRIGGER mcp_server_user_tokens_refuse_clear_secret BEFORE INSERT OR UPDATE ON public.mcp_server_user_tokens FOR EACH ROW EXECUTE FUNCTION public.chatdb_refuse_clear_secret('access_token', 'access_token_key_id', 'refresh_token', 'refresh_token_key_id');

ALTER TABLE ONLY public.chat_diff_statuses
    ADD CONSTRAINT chat_diff_statuses_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_file_links
    ADD CONSTRAINT chat_file_links_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_file_links
    ADD CONSTRAINT chat_file_links_file_id_fkey FOREIGN KEY (file_id) REFERENCES public.chat_files(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_files
    ADD CONSTRAINT chat_files_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_files
    ADD CONSTRAINT chat_files_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_leases
    ADD CONSTRAINT chat_leases_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_model_config_id_fkey FOREIGN KEY (model_config_id) REFERENCES public.chat_model_configs(id);

ALTER TABLE ONLY public.chat_model_configs
    ADD CONSTRAINT chat_model_configs_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.chat_model_configs
    ADD CONSTRAINT chat_model_configs_provider_fkey FOREIGN KEY (provider) REFERENCES public.chat_providers(provider) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_model_configs
    ADD CONSTRAINT chat_model_configs_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.chat_providers
    ADD CONSTRAINT chat_providers_api_key_key_id_fkey FOREIGN KEY (api_key_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.chat_providers
    ADD CONSTRAINT chat_providers_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);

ALTER TABLE ONLY public.chat_queued_message_quarantine
    ADD CONSTRAINT chat_queued_message_quarantine_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chat_queued_messages
    ADD CONSTRAINT chat_queued_messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES public.chats(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES public.workspace_agents(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_build_id_fkey FOREIGN KEY (build_id) REFERENCES public.workspace_builds(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_last_model_config_id_fkey FOREIGN KEY (last_model_config_id) REFERENCES public.chat_model_configs(id);

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_parent_chat_id_fkey FOREIGN KEY (parent_chat_id) REFERENCES public.chats(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_parent_same_owner_fkey FOREIGN KEY (parent_chat_id, owner_id, organization_id) REFERENCES public.chats(id, owner_id, organization_id) ON DELETE SET NULL (parent_chat_id);

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_root_chat_id_fkey FOREIGN KEY (root_chat_id) REFERENCES public.chats(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_root_same_owner_fkey FOREIGN KEY (root_chat_id, owner_id, organization_id) REFERENCES public.chats(id, owner_id, organization_id) ON DELETE SET NULL (root_chat_id);

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.chats
    ADD CONSTRAINT chats_workspace_same_organization_fkey FOREIGN KEY (workspace_id, organization_id) REFERENCES public.workspaces(id, organization_id) ON DELETE SET NULL (workspace_id);

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_group_id_fkey FOREIGN KEY (group_id) REFERENCES public.groups(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.group_members
    ADD CONSTRAINT group_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.groups
    ADD CONSTRAINT groups_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_api_key_value_key_id_fkey FOREIGN KEY (api_key_value_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_custom_headers_key_id_fkey FOREIGN KEY (custom_headers_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_oauth2_client_secret_key_id_fkey FOREIGN KEY (oauth2_client_secret_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.mcp_server_configs
    ADD CONSTRAINT mcp_server_configs_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_access_token_key_id_fkey FOREIGN KEY (access_token_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_mcp_server_config_id_fkey FOREIGN KEY (mcp_server_config_id) REFERENCES public.mcp_server_configs(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_refresh_token_key_id_fkey FOREIGN KEY (refresh_token_key_id) REFERENCES public.dbcrypt_keys(active_key_digest);

ALTER TABLE ONLY public.mcp_server_user_tokens
    ADD CONSTRAINT mcp_server_user_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_configs
    ADD CONSTRAINT user_configs_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.workspace_agents
    ADD CONSTRAINT workspace_agents_build_id_fkey FOREIGN KEY (build_id) REFERENCES public.workspace_builds(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.workspace_builds
    ADD CONSTRAINT workspace_builds_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id);

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id);
