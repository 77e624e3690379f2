-- Drops the soft-delete flag (soft-deleted rows become visible again).

ALTER TABLE chat_messages DROP COLUMN deleted;
