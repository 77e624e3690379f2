-- Removes the core tables (everything else depends on them, so this runs last).

DROP TABLE user_configs;
DROP TABLE site_configs;
DROP TABLE dbcrypt_keys;
DROP TABLE workspace_agents;
DROP TABLE workspace_builds;
DROP TABLE workspaces;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE organization_members;
DROP TABLE organizations;
DROP TABLE users;
DROP TYPE user_status;
