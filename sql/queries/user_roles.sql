-- Site roles of users (users.rbac_roles), as far as chats are concerned: who may grant the
-- chat-access role (seed: "Allow system, owner, and user-admin to assign the new role").

-- name: UpdateUserSiteRoles :one
-- authz: custom update on the user, plus the right to assign each role it adds, removes (chatdb.authz.roles.ASSIGNABLE_BY)
-- Replaces the user's site roles; a deleted user is not found.
UPDATE users
SET rbac_roles = @rbac_roles::text[], updated_at = now()
WHERE id = @user_id AND NOT deleted
RETURNING id, rbac_roles;
