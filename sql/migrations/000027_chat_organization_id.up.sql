-- Chats belong to an organization (seed: "Adds organization_id to chats with backfill (workspace
-- org -> user org membership -> default org)"). The column is added nullable, filled in three
-- passes, each only for chats the previous passes left empty:
--   1. the organization of the chat's workspace;
--   2. the owner's oldest organization membership (ties broken by organization id);
--   3. the default organization.
-- Then it becomes NOT NULL. A chat that none of the three can place stops the migration with a
-- clear message instead of a bare NOT NULL failure. updated_at is not touched.

ALTER TABLE chats ADD COLUMN organization_id uuid;

UPDATE chats AS c
SET organization_id = w.organization_id
FROM workspaces AS w
WHERE w.id = c.workspace_id;

UPDATE chats AS c
SET organization_id = (
    SELECT om.organization_id
    FROM organization_members AS om
    WHERE om.user_id = c.owner_id
    ORDER BY om.created_at, om.organization_id
    LIMIT 1
)
WHERE c.organization_id IS NULL;

UPDATE chats
SET organization_id = (SELECT id FROM organizations WHERE is_default)
WHERE organization_id IS NULL;

DO $$
DECLARE
    orphans bigint;
BEGIN
    SELECT count(*) INTO orphans FROM chats WHERE organization_id IS NULL;
    IF orphans > 0 THEN
        RAISE EXCEPTION 'cannot backfill chats.organization_id: % chat(s) have no workspace, an owner without organization memberships, and there is no default organization', orphans
            USING HINT = 'Create a default organization (organizations.is_default) or add the owners to an organization, then migrate again.';
    END IF;
END
$$;

ALTER TABLE chats
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT chats_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE;

CREATE INDEX idx_chats_organization_id ON chats (organization_id);
