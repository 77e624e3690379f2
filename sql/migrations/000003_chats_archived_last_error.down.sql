-- Drops the archive flag and the persisted error reason.

ALTER TABLE chats DROP COLUMN last_error;
ALTER TABLE chats DROP COLUMN archived;
