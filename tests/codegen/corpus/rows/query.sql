-- name: ListItems :many
SELECT * FROM item ORDER BY id;

-- name: GetItem :one
SELECT * FROM item WHERE id = @id;

-- name: IterItems :iter
SELECT * FROM item ORDER BY id;

-- name: ListTagged :many
SELECT sqlc.embed(item), tag.id AS tag_id, tag.mood AS tag_mood, tag.meta
FROM tag LEFT JOIN item ON item.id = tag.item_id
ORDER BY tag.id;

-- name: ListNotes :many
SELECT id, note, created_at FROM item ORDER BY id;

-- name: BumpItems :batchmany
UPDATE item SET small = small WHERE id = @id RETURNING *;
