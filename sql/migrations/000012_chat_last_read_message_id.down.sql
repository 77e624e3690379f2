-- Drops the read watermark.

ALTER TABLE chats DROP COLUMN last_read_message_id;
