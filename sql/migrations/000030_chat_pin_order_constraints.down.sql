-- The repaired positions are kept; only the constraints go.

ALTER TABLE chats
    DROP CONSTRAINT chats_pin_order_not_archived_check,
    DROP CONSTRAINT chats_pin_order_root_only_check,
    DROP CONSTRAINT chats_pin_order_check;
