DROP TRIGGER chat_files_identity_immutable ON chat_files;
DROP TRIGGER chats_identity_immutable ON chats;
DROP FUNCTION chatdb_refuse_identity_change();
