-- Drops the per-owner keyset pagination index.

DROP INDEX idx_chats_owner_updated;
