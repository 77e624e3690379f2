-- Reverts 000032: default fillfactor, no multivariate statistics on chats.
ALTER TABLE chats RESET (fillfactor);
DROP STATISTICS chats_owner_organization;
