-- Drops the pin position.

ALTER TABLE chats DROP COLUMN pin_order;
