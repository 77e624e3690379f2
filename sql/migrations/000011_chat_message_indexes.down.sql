-- Restores the plain chat_id index and the original compaction-summary index.

DROP INDEX idx_chat_messages_compressed_summary;
CREATE INDEX idx_chat_messages_compressed_summary_boundary
    ON chat_messages (chat_id, created_at DESC, id DESC)
    WHERE compressed = true AND role = 'system' AND visibility IN ('model', 'both');

DROP INDEX idx_chat_messages_chat_id_id;
CREATE INDEX idx_chat_messages_chat ON chat_messages (chat_id);
