-- Drops the index of pinned chats by owner.

DROP INDEX idx_chats_pinned_by_owner;
