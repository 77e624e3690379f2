-- The chat list pages with a keyset cursor over (updated_at, id) DESC per owner (seed: "add
-- pagination to chat list endpoint"). 000031 replaces this with root-only, pin-aware indexes.

CREATE INDEX idx_chats_owner_updated ON chats (owner_id, updated_at DESC, id DESC);
