-- name: AuthorsWithBio :many
SELECT id, bio FROM authors WHERE bio IS NOT NULL ORDER BY id;

-- name: IterAuthors :iter
SELECT id, name FROM authors ORDER BY id;
