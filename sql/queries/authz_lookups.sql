-- Lookups the authorization layer uses to find the object a check is about.
-- They reveal only ids, so they are system reads; the wrapper calls them unwrapped.

-- name: GetChatFileOwnerByID :one
-- authz: system read chat_file
-- A file's owner and organization, without its data.
SELECT id, owner_id, organization_id FROM chat_files WHERE id = @id;

-- name: GetChatIDsByFileID :many
-- authz: system read chat
-- The chats a file is linked to (a file is readable through any chat the actor may read).
SELECT chat_id FROM chat_file_links WHERE file_id = @file_id ORDER BY chat_id;
