-- Files stored meanwhile stay; only the limit goes.

ALTER TABLE chat_files DROP CONSTRAINT chat_files_data_size_check;
