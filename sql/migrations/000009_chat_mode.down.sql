-- Drops the chat mode column and its enum.

ALTER TABLE chats DROP COLUMN mode;
DROP TYPE chat_mode;
