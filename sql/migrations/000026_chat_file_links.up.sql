-- Which files belong to which chat (seed: "Adds a chat_file_links association table"), linked
-- with deduplication. The unique (chat_id, file_id) index also serves per-chat lookups; file_id
-- is indexed for cascades and the "is this file still linked?" check of the retention purge.

CREATE TABLE chat_file_links (
    chat_id uuid NOT NULL,
    file_id uuid NOT NULL,
    CONSTRAINT chat_file_links_chat_id_file_id_key UNIQUE (chat_id, file_id),
    CONSTRAINT chat_file_links_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE,
    CONSTRAINT chat_file_links_file_id_fkey
        FOREIGN KEY (file_id) REFERENCES chat_files (id) ON DELETE CASCADE
);

CREATE INDEX idx_chat_file_links_file_id ON chat_file_links (file_id);
