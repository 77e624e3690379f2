-- Drops the per-message cost (the backfilled values go with it) and its index.

DROP INDEX idx_chat_messages_created_at;
ALTER TABLE chat_messages DROP COLUMN total_cost_micros;
