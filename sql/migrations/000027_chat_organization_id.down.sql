-- Drops chats.organization_id with its foreign key and index.

DROP INDEX idx_chats_organization_id;
ALTER TABLE chats DROP COLUMN organization_id;
