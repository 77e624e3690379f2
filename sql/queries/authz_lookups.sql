-- Lookups the authorization layer uses to find the object a check is about.
-- They reveal only ids, so they are system reads; the wrapper calls them unwrapped.

-- name: GetChatFileOwnerByID :one
-- authz: system read chat_file
-- A file's owner and organization, without its data.
SELECT id, owner_id, organization_id FROM chat_files WHERE id = @id;

-- name: GetChatIDsByFileID :many
-- authz: system read chat and system read chat_file
-- The chats a file is linked to (a file is readable through any chat the actor may read).
SELECT chat_id FROM chat_file_links WHERE file_id = @file_id ORDER BY chat_id;

-- name: GetAuthzSubjectByUserID :one
-- authz: system read user
-- What authentication needs to build a user's Subject: site roles, per-organization roles
-- (a JSON object organization id -> roles) and groups. Called before there is an actor.
SELECT
    u.id,
    u.username,
    u.rbac_roles,
    u.is_system,
    u.status,
    u.deleted,
    coalesce(
        (SELECT jsonb_object_agg(m.organization_id, m.roles)
         FROM organization_members m WHERE m.user_id = u.id),
        '{}'::jsonb
    ) AS org_roles,
    ARRAY(
        SELECT gm.group_id FROM group_members gm WHERE gm.user_id = u.id ORDER BY gm.group_id
    ) AS group_ids
FROM users u
WHERE u.id = @user_id;

-- name: GetWorkspaceOwnerByID :one
-- authz: system read workspace
-- A workspace's owner and organization (for `read workspace(<param>)` checks), deleted or not.
SELECT id, owner_id, organization_id FROM workspaces WHERE id = @id;

-- name: IsOrganizationMember :one
-- authz: system read user and system read organization
-- Whether the user is a member of the organization: an object built as "owned by <user> in
-- <organization>" (`create chat(owner=..., org=...)`) exists only for a member.
SELECT EXISTS (
    SELECT 1 FROM organization_members
    WHERE user_id = @user_id AND organization_id = @organization_id
) AS member;
