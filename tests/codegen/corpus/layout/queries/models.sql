-- name: DeleteAuthor :execrows
DELETE FROM authors WHERE id = $1;
