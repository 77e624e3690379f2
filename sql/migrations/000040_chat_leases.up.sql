-- Heartbeats write a narrow lease row instead of the wide chats row (issue 11 item 4).
-- A worker heartbeats every running chat it holds every few seconds; rewriting the whole
-- chats row (title, labels, timestamps, a dozen indexes) for that made 10,000 heartbeats cost
-- ~100 ms. A chat_leases row holds only what a heartbeat changes. heartbeat_at is in no index
-- and the table leaves room on each page (fillfactor), so a heartbeat is a HOT update.
--
-- A lease exists exactly while its chat is running. The trigger below keeps it so, in the
-- transaction and under the row lock of whatever changes the chat (acquisition, archive,
-- interrupt, finish, recovery, a direct UPDATE), so no query has to remember it:
--   * a chat becoming running gets a lease (worker_id, heartbeat_at = chats.heartbeat_at,
--     else started_at, else updated_at);
--   * a running chat whose worker_id or heartbeat_at is written gets them in its lease;
--   * a chat leaving running loses its lease; a deleted chat loses it by the foreign key.
-- UpdateChatHeartbeats touches only chat_leases, so chats.heartbeat_at is the heartbeat the
-- chat row was last written with (at acquisition); the live one is chat_leases.heartbeat_at.
CREATE TABLE chat_leases (
    chat_id uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    worker_id uuid,
    heartbeat_at timestamptz NOT NULL
) WITH (fillfactor = 50);

CREATE INDEX chat_leases_worker_id_idx ON chat_leases (worker_id);

CREATE FUNCTION chatdb_sync_chat_lease() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'running' THEN
        INSERT INTO chat_leases (chat_id, worker_id, heartbeat_at)
        VALUES (NEW.id, NEW.worker_id, COALESCE(NEW.heartbeat_at, NEW.started_at, NEW.updated_at))
        ON CONFLICT (chat_id) DO UPDATE
        SET worker_id = EXCLUDED.worker_id, heartbeat_at = EXCLUDED.heartbeat_at;
    ELSE
        DELETE FROM chat_leases WHERE chat_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER chats_lease_on_insert
    AFTER INSERT ON chats
    FOR EACH ROW
    WHEN (NEW.status = 'running')
    EXECUTE FUNCTION chatdb_sync_chat_lease();

CREATE TRIGGER chats_lease_on_update
    AFTER UPDATE OF status, worker_id, started_at, heartbeat_at ON chats
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.worker_id IS DISTINCT FROM NEW.worker_id
          OR OLD.started_at IS DISTINCT FROM NEW.started_at
          OR OLD.heartbeat_at IS DISTINCT FROM NEW.heartbeat_at)
    EXECUTE FUNCTION chatdb_sync_chat_lease();

-- Chats running at upgrade time keep their worker and their last heartbeat.
INSERT INTO chat_leases (chat_id, worker_id, heartbeat_at)
SELECT id, worker_id, COALESCE(heartbeat_at, started_at, updated_at)
FROM chats
WHERE status = 'running';
