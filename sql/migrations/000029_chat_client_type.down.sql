-- Drops the client type column and its enum.

ALTER TABLE chats DROP COLUMN client_type;
DROP TYPE chat_client_type;
