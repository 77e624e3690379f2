-- name: InsertChatFile :one
-- authz: create chat_file(owner=owner_id, org=organization_id)
-- Returns the new file's metadata; the data is not sent back.
INSERT INTO chat_files (owner_id, organization_id, name, mimetype, data)
VALUES (@owner_id::uuid, @organization_id::uuid, @name::text, @mimetype::text, @data::bytea)
RETURNING id, owner_id, organization_id, created_at, name, mimetype;

-- name: GetChatFileByID :one
-- authz: custom read on file, else readable via a linked chat
SELECT * FROM chat_files
WHERE id = @id::uuid;

-- name: GetChatFileMetadataByChatID :many
-- authz: read chat(chat_id)
-- The files linked to a chat, oldest first, without their data.
SELECT f.id, f.owner_id, f.organization_id, f.created_at, f.name, f.mimetype
FROM chat_file_links AS l
    JOIN chat_files AS f ON f.id = l.file_id
WHERE l.chat_id = @chat_id::uuid
ORDER BY f.created_at, f.id;

-- name: GetChatFileMetadataByIDs :many
-- authz: post_filter read chat_file
-- Lightweight metadata (no data) of the given files the actor may read, oldest first; ids
-- that do not exist or are not readable are simply absent.
SELECT f.id, f.owner_id, f.organization_id, f.created_at, f.name, f.mimetype
FROM chat_files AS f
WHERE f.id = ANY(@ids::uuid[])
ORDER BY f.created_at, f.id;

-- name: LinkChatFiles :one
-- authz: update chat(chat_id) and read chat_file[](file_ids)
-- Links files to a chat, ignoring ids already linked (and repeats in file_ids). All or
-- nothing: when the chat's existing links plus the new ones would exceed max_links, nothing is
-- linked. Returns how many new ids were refused (0 = all linked). Two concurrent calls can
-- each pass the cap; callers that need the cap exact lock the chat row first
-- (GetChatByIDForUpdate) in the same transaction.
WITH existing AS (
    SELECT file_id FROM chat_file_links
    WHERE chat_id = @chat_id::uuid
),
new_ids AS (
    SELECT DISTINCT r.file_id
    FROM unnest(@file_ids::uuid[]) AS r (file_id)
    WHERE r.file_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM existing AS e WHERE e.file_id = r.file_id)
),
verdict AS (
    SELECT (SELECT count(*) FROM existing) + (SELECT count(*) FROM new_ids)
        <= @max_links::int AS fits
),
linked AS (
    INSERT INTO chat_file_links (chat_id, file_id)
    SELECT @chat_id::uuid, n.file_id
    FROM new_ids AS n, verdict AS v
    WHERE v.fits
    ON CONFLICT (chat_id, file_id) DO NOTHING
    RETURNING file_id
)
SELECT (CASE WHEN v.fits THEN 0 ELSE (SELECT count(*) FROM new_ids) END)::int AS "refused!"
FROM verdict AS v;

-- name: DeleteOldChatFiles :execrows
-- authz: system delete chat
-- Retention: deletes up to limit files created before before_time, oldest first, that no
-- longer matter to any chat: not linked to a non-archived chat, nor to a chat updated at or
-- after before_time (an archived chat's updated_at is its archive time). Rows another purger
-- holds are skipped.
DELETE FROM chat_files
WHERE id IN (
    SELECT f.id
    FROM chat_files AS f
    WHERE f.created_at < @before_time::timestamptz
        AND NOT EXISTS (
            SELECT 1
            FROM chat_file_links AS l
                JOIN chats AS c ON c.id = l.chat_id
            WHERE l.file_id = f.id
                AND (NOT c.archived OR c.updated_at >= @before_time::timestamptz)
        )
    ORDER BY f.created_at, f.id
    LIMIT @limit::int
    FOR UPDATE OF f SKIP LOCKED
);
