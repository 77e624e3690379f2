-- Drops the per-step runtime column.

ALTER TABLE chat_messages DROP COLUMN runtime_ms;
