-- Pinned chats (seed: "Migration 000453_chat_pin_order"): 0 = unpinned, 1..n = position in the
-- owner's pinned list. The invariants (never negative, roots only, never archived) are enforced
-- by CHECKs added later in 000030, after existing rows are repaired.

ALTER TABLE chats ADD COLUMN pin_order integer NOT NULL DEFAULT 0;
