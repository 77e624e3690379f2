-- Drops the message author column.

ALTER TABLE chat_messages DROP COLUMN created_by;
