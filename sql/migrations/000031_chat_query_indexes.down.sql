-- Restores the earlier chat indexes: per-owner (updated_at, id) paging and pending by status.

DROP INDEX idx_chats_archived_updated_at;

DROP INDEX idx_chats_pending;
CREATE INDEX idx_chats_pending ON chats (status) WHERE status = 'pending';

DROP INDEX idx_chats_list;
DROP INDEX idx_chats_list_by_owner;

CREATE INDEX idx_chats_owner_updated ON chats (owner_id, updated_at DESC, id DESC);
