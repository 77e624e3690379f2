-- Pin-order invariants become constraints: pin_order is never negative, only root chats are
-- pinned, and archived chats are never pinned (archiving unpins). Rows written before these rules
-- are repaired first, so the CHECKs can be added:
--   * archived chats, child chats and negative positions are unpinned (pin_order = 0);
--   * each owner's remaining pinned chats are renumbered 1..n, keeping their order (ties between
--     duplicate positions: most recently updated first, then the higher id, as the chat list
--     shows them), which closes gaps and removes duplicates.
-- updated_at is not touched.

UPDATE chats
SET pin_order = 0
WHERE pin_order <> 0
    AND (pin_order < 0 OR archived OR parent_chat_id IS NOT NULL);

UPDATE chats AS c
SET pin_order = ranked.position
FROM (
    SELECT
        id,
        row_number() OVER (
            PARTITION BY owner_id
            ORDER BY pin_order, updated_at DESC, id DESC
        ) AS position
    FROM chats
    WHERE pin_order > 0
) AS ranked
WHERE ranked.id = c.id
    AND c.pin_order <> ranked.position;

ALTER TABLE chats
    ADD CONSTRAINT chats_pin_order_check CHECK (pin_order >= 0),
    ADD CONSTRAINT chats_pin_order_root_only_check CHECK (pin_order = 0 OR parent_chat_id IS NULL),
    ADD CONSTRAINT chats_pin_order_not_archived_check CHECK (pin_order = 0 OR NOT archived);
