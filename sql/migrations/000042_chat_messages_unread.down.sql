-- Drops the index of the messages that can make a chat unread.

DROP INDEX idx_chat_messages_unread;
