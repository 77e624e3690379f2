ALTER TYPE state ADD VALUE 'archived';
ALTER TABLE tasks ADD COLUMN archived_state state NOT NULL DEFAULT 'archived';
