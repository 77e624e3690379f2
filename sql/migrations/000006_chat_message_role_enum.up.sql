-- chat_messages.role becomes an enum and content gets a version (seed: "add chat_message_role
-- enum and content_version column", 000434). The partial index that mentions role is rebuilt
-- around the type change. content_version is added with DEFAULT 0 so every existing row is the
-- legacy shape (0), then the default is dropped so new inserts must state their version. Both
-- steps are catalog-only: PostgreSQL stores the default for old rows without rewriting them.

CREATE TYPE chat_message_role AS ENUM ('system', 'user', 'assistant', 'tool');

DROP INDEX idx_chat_messages_compressed_summary_boundary;

ALTER TABLE chat_messages
    ALTER COLUMN role TYPE chat_message_role USING role::chat_message_role;

CREATE INDEX idx_chat_messages_compressed_summary_boundary
    ON chat_messages (chat_id, created_at DESC, id DESC)
    WHERE compressed = true AND role = 'system' AND visibility IN ('model', 'both');

ALTER TABLE chat_messages ADD COLUMN content_version smallint NOT NULL DEFAULT 0;
ALTER TABLE chat_messages ALTER COLUMN content_version DROP DEFAULT;
