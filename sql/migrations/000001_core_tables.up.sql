-- The minimal core the chat tables reference: users, organizations and their members, groups,
-- workspaces with their builds and agents, the dbcrypt key table and two key/value config
-- tables. The original service owns these elsewhere; chatdb keeps a small, real copy so it can
-- stand alone (SPEC 2.1).

CREATE TYPE user_status AS ENUM ('active', 'suspended', 'dormant');

CREATE TABLE users (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    username text NOT NULL,
    name text NOT NULL DEFAULT '',
    avatar_url text NOT NULL DEFAULT '',
    status user_status NOT NULL DEFAULT 'active',
    rbac_roles text[] NOT NULL DEFAULT '{}',
    deleted boolean NOT NULL DEFAULT false,
    is_system boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id)
);

-- A deleted user frees its username and email for reuse.
CREATE UNIQUE INDEX users_username_unique ON users (username) WHERE NOT deleted;
CREATE UNIQUE INDEX users_email_unique ON users (email) WHERE NOT deleted;

CREATE TABLE organizations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_name_key UNIQUE (name)
);

-- At most one default organization (the last fallback of the chats.organization_id backfill).
CREATE UNIQUE INDEX organizations_single_default ON organizations (is_default) WHERE is_default;

CREATE TABLE organization_members (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organization_members_pkey PRIMARY KEY (organization_id, user_id),
    CONSTRAINT organization_members_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT organization_members_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE INDEX idx_organization_members_user_id ON organization_members (user_id);

CREATE TABLE groups (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    avatar_url text NOT NULL DEFAULT '',
    CONSTRAINT groups_pkey PRIMARY KEY (id),
    CONSTRAINT groups_organization_id_name_key UNIQUE (organization_id, name),
    CONSTRAINT groups_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE TABLE group_members (
    user_id uuid NOT NULL,
    group_id uuid NOT NULL,
    CONSTRAINT group_members_user_id_group_id_key UNIQUE (user_id, group_id),
    CONSTRAINT group_members_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT group_members_group_id_fkey
        FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE
);

CREATE INDEX idx_group_members_group_id ON group_members (group_id);

CREATE TABLE workspaces (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    name text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_pkey PRIMARY KEY (id),
    CONSTRAINT workspaces_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id),
    CONSTRAINT workspaces_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES organizations (id)
);

CREATE INDEX idx_workspaces_owner_id ON workspaces (owner_id);
CREATE INDEX idx_workspaces_organization_id ON workspaces (organization_id);

CREATE TABLE workspace_builds (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL,
    build_number integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspace_builds_pkey PRIMARY KEY (id),
    CONSTRAINT workspace_builds_workspace_id_build_number_key UNIQUE (workspace_id, build_number),
    CONSTRAINT workspace_builds_workspace_id_fkey
        FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE
);

CREATE TABLE workspace_agents (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    build_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspace_agents_pkey PRIMARY KEY (id),
    CONSTRAINT workspace_agents_build_id_fkey
        FOREIGN KEY (build_id) REFERENCES workspace_builds (id) ON DELETE CASCADE
);

CREATE INDEX idx_workspace_agents_build_id ON workspace_agents (build_id);

-- Keys that encrypt secrets at rest (SPEC 9). Secret columns reference active_key_digest; a
-- revoked key moves its digest to revoked_key_digest, so rows still using it cannot exist.
CREATE TABLE dbcrypt_keys (
    number integer NOT NULL,
    active_key_digest text,
    revoked_key_digest text,
    test text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT dbcrypt_keys_pkey PRIMARY KEY (number),
    CONSTRAINT dbcrypt_keys_active_key_digest_key UNIQUE (active_key_digest),
    CONSTRAINT dbcrypt_keys_revoked_key_digest_key UNIQUE (revoked_key_digest)
);

CREATE TABLE site_configs (
    key varchar(256) NOT NULL,
    value text NOT NULL,
    CONSTRAINT site_configs_key_key UNIQUE (key)
);

CREATE TABLE user_configs (
    user_id uuid NOT NULL,
    key varchar(256) NOT NULL,
    value text NOT NULL,
    CONSTRAINT user_configs_pkey PRIMARY KEY (user_id, key),
    CONSTRAINT user_configs_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
