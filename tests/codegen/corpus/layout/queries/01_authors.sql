-- Queries about authors.
-- (A file header: not the doc of the first query, a blank line separates them.)

-- CreateAuthor adds an author.
-- The bio is optional.
-- name: CreateAuthor :one
INSERT INTO authors (name, bio) VALUES (@name, @bio)
RETURNING *;
-- GetAuthor reads one author.
-- name: GetAuthor :one
SELECT * FROM authors WHERE id = @id;

/* name: CountAuthors :one */
SELECT count(*) AS n FROM authors;

/* name: AuthorNames :many */ SELECT name FROM authors ORDER BY name;

-- A statement with no name line is ignored, as sqlc ignores it.
SELECT 42;

-- name: RenameAuthor :exec
-- Annotations and docs below the name line still work.
UPDATE authors SET name = @name WHERE id = @id
