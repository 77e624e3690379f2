-- Chat rights move out of the plain member role into a built-in `chat-access` role (seed: "Add
-- chat-access built-in role ... Migration auto-assigns role to users who have ever created a
-- chat"). So nobody who already uses chats loses access, every user who owns a chat gets the role
-- appended to users.rbac_roles, once. Users who never created a chat do not get it.

UPDATE users
SET rbac_roles = array_append(rbac_roles, 'chat-access')
WHERE NOT ('chat-access' = ANY (rbac_roles))
    AND EXISTS (SELECT 1 FROM chats WHERE chats.owner_id = users.id);
