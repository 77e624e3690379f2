-- Back to mutable owners: the authorization layer's per-connection memory is then unsafe.
DROP TRIGGER chat_files_identity_immutable ON chat_files;
DROP TRIGGER chats_identity_immutable ON chats;
DROP FUNCTION chatdb_refuse_identity_change();
