-- Back to heartbeats on the chats row: a running chat takes its lease's last heartbeat along
-- (unless that is only the fallback the lease started from, which GetStaleChats derives again).
DROP TRIGGER chats_lease_on_update ON chats;
DROP TRIGGER chats_lease_on_insert ON chats;
DROP FUNCTION chatdb_sync_chat_lease();
UPDATE chats
SET heartbeat_at = chat_leases.heartbeat_at
FROM chat_leases
WHERE chat_leases.chat_id = chats.id
    AND chat_leases.heartbeat_at
        IS DISTINCT FROM COALESCE(chats.heartbeat_at, chats.started_at, chats.updated_at);
DROP TABLE chat_leases;
