-- name: AuthorsWithBio :many
SELECT id, bio FROM authors WHERE bio IS NOT NULL ORDER BY id;
