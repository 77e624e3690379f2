-- Message indexes for the queries as they are now:
-- * (chat_id, id) serves every per-chat read ordered or paged by id (live streaming cursor,
--   DESC pagination, prompt assembly) and replaces the plain chat_id index.
-- * The compaction summary is now a compressed, model-only message of any role (seed: "update
--   the compaction message to be the user role"), and deleted rows never count, so its lookup
--   index is rebuilt for "newest compressed model-visible live message of this chat".

DROP INDEX idx_chat_messages_chat;
CREATE INDEX idx_chat_messages_chat_id_id ON chat_messages (chat_id, id);

DROP INDEX idx_chat_messages_compressed_summary_boundary;
CREATE INDEX idx_chat_messages_compressed_summary
    ON chat_messages (chat_id, id DESC)
    WHERE compressed AND visibility = 'model' AND NOT deleted;
