-- Indexes shaped after the queries that page or scan chats today.
--
-- Chat list (GetChats): root chats only (seed: "GetChats now returns only root chats"), pinned
-- first in pin order, then newest (seed: "Add a 4-column ORDER BY: pinned-first flag DESC,
-- negated pin_order DESC, updated_at DESC, id DESC. The negation trick keeps all sort columns
-- DESC so the cursor tuple < comparison still works"). The two indexes below carry exactly that
-- key, with and without the owner filter, so a page (and a keyset cursor on the same 4-tuple) is
-- read straight from the index with no sort. The query must spell the keys the same way:
--     WHERE parent_chat_id IS NULL [AND owner_id = $owner]
--     [AND ((pin_order > 0), -pin_order, updated_at, id) < ($flag, $neg_pin, $updated_at, $id)]
--     ORDER BY (pin_order > 0) DESC, -pin_order DESC, updated_at DESC, id DESC
-- They replace the owner/updated_at index of 000004, which could not serve the pinned order.
--
-- Worker acquisition (AcquireChats): pending chats, oldest updated_at first. The pending partial
-- index now holds updated_at so it returns them in that order.
--
-- Retention (DeleteOldChats): archived chats, oldest updated_at first.

DROP INDEX idx_chats_owner_updated;

CREATE INDEX idx_chats_list_by_owner
    ON chats (owner_id, (pin_order > 0) DESC, (-pin_order) DESC, updated_at DESC, id DESC)
    WHERE parent_chat_id IS NULL;

CREATE INDEX idx_chats_list
    ON chats ((pin_order > 0) DESC, (-pin_order) DESC, updated_at DESC, id DESC)
    WHERE parent_chat_id IS NULL;

DROP INDEX idx_chats_pending;
CREATE INDEX idx_chats_pending ON chats (updated_at) WHERE status = 'pending';

CREATE INDEX idx_chats_archived_updated_at ON chats (updated_at) WHERE archived;
