-- Drops the chat/file association table.

DROP TABLE chat_file_links;
