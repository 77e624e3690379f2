-- Drops the chat files table.

DROP TABLE chat_files;
