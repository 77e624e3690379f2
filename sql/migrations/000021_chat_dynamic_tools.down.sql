-- PostgreSQL cannot drop an enum value, so chat_status is rebuilt without requires_action.
-- Chats waiting for tool results go back to waiting (the old server cannot resume them).

ALTER TABLE chats DROP COLUMN dynamic_tools;

UPDATE chats SET status = 'waiting' WHERE status = 'requires_action';

DROP INDEX idx_chats_pending;
ALTER TABLE chats ALTER COLUMN status DROP DEFAULT;
ALTER TYPE chat_status RENAME TO chat_status_old;

CREATE TYPE chat_status AS ENUM (
    'waiting',
    'pending',
    'running',
    'paused',
    'completed',
    'error'
);

ALTER TABLE chats ALTER COLUMN status TYPE chat_status USING status::text::chat_status;
ALTER TABLE chats ALTER COLUMN status SET DEFAULT 'waiting';
DROP TYPE chat_status_old;

CREATE INDEX idx_chats_pending ON chats (status) WHERE status = 'pending';
