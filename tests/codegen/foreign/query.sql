-- name: GetAuthor :one
SELECT * FROM authors
WHERE author_id = $1;

-- name: GetBook :one
SELECT * FROM books
WHERE book_id = $1;

-- name: DeleteBook :exec
DELETE FROM books
WHERE book_id = $1;

-- name: BooksByTitleYear :many
SELECT * FROM books
WHERE title = $1 AND year = $2;

-- name: BooksByTags :many
SELECT
  book_id,
  title,
  name,
  isbn,
  tags
FROM books
LEFT JOIN authors ON books.author_id = authors.author_id
WHERE tags && $1::varchar[];

-- name: CreateAuthor :one
INSERT INTO authors (name) VALUES ($1)
RETURNING *;

-- name: CreateBook :one
INSERT INTO books (
    author_id,
    isbn,
    book_type,
    title,
    year,
    available,
    tags
) VALUES (
    $1,
    $2,
    $3,
    $4,
    $5,
    $6,
    $7
)
RETURNING *;

-- name: UpdateBook :exec
UPDATE books
SET title = $1, tags = $2
WHERE book_id = $3;

-- name: UpdateBookISBN :exec
UPDATE books
SET title = $1, tags = $2, isbn = $4
WHERE book_id = $3;

-- name: UpdateAuthorPartial :one
UPDATE authors
SET name = COALESCE(sqlc.narg('name'), name),
    bio = COALESCE(sqlc.narg('bio'), bio)
WHERE author_id = sqlc.arg('author_id')
RETURNING *;

-- name: SayHello :one
SELECT say_hello(@s) AS greeting;

-- name: UpsertBookByISBN :one
INSERT INTO books (author_id, isbn, title)
VALUES (@author_id, @isbn, @title)
ON CONFLICT (isbn) DO UPDATE SET title = EXCLUDED.title
RETURNING book_id, (xmax = 0) AS inserted;

-- name: AuthorCounts :many
SELECT * FROM author_book_counts ORDER BY author_id;

-- name: LatestBookPerAuthor :many
SELECT a.author_id, a.name, latest.title, latest.year
FROM authors a
LEFT JOIN LATERAL (
    SELECT title, year FROM books b WHERE b.author_id = a.author_id ORDER BY year DESC LIMIT 1
) latest ON true
ORDER BY a.author_id;

-- name: RankBooks :many
SELECT book_id, title, rank() OVER (PARTITION BY author_id ORDER BY year DESC) AS rnk
FROM books ORDER BY book_id;

-- name: PurgeAuthorsWithoutBooks :one
WITH gone AS (
    DELETE FROM authors a
    WHERE NOT EXISTS (SELECT 1 FROM books b WHERE b.author_id = a.author_id)
    RETURNING author_id
)
SELECT count(*) FROM gone;
