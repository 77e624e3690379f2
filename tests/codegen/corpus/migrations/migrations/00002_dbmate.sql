-- migrate:up
ALTER TABLE tasks ADD COLUMN notes text;

-- migrate:down
ALTER TABLE tasks DROP COLUMN notes;
