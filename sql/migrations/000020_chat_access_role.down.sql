-- The role did not exist before this migration, so reverting it removes it from everyone.

UPDATE users
SET rbac_roles = array_remove(rbac_roles, 'chat-access')
WHERE 'chat-access' = ANY (rbac_roles);
