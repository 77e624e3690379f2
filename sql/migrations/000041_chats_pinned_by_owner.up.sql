-- The pin statements (PinChatByID, UnpinChatByID, UpdateChatPinOrder) renumber the owner's
-- pinned chats. Through idx_chats_owner they read every chat of the owner to find the few
-- pinned ones, so pinning grew with the owner's chats (a pin and an unpin: 26 ms for an owner
-- of 90,000 chats in `make bench BENCH_ARGS="-k workflows"`). This index holds the pinned chats.

CREATE INDEX idx_chats_pinned_by_owner ON chats (owner_id) WHERE pin_order > 0;
