-- name: AddAuthor :one
INSERT INTO authors (name, bio, "note!", rating, code) VALUES (@name, @bio, @note, @rating, @code)
RETURNING *;

-- name: AddBook :one
INSERT INTO books (author_id, title, price) VALUES (@author_id, @title, @price) RETURNING *;

-- Unnamed columns are not forced nullable by the `?` of `?column?`.
-- name: Unnamed :one
SELECT 1, count(*) > 0, NOT EXISTS (SELECT 1 FROM books) FROM authors;

-- A real column named "note!" is not an override: it is nullable.
-- name: RealBangColumn :many
SELECT "note!" FROM authors ORDER BY id;

-- Only an alias written in the query overrides.
-- name: AliasOverride :many
SELECT bio AS "bio!", name AS "name?" FROM authors WHERE bio IS NOT NULL ORDER BY id;

-- Built-in functions, decided from the catalog.
-- name: Builtins :one
SELECT pi() AS pi, cbrt(27.0) AS cbrt, div(7, 2) AS div, width_bucket(5, 0, 10, 5) AS bucket,
       nextval('tickets') AS ticket, gen_random_uuid() AS uuid, uuid_generate_v4() AS uuid4,
       pg_advisory_unlock(42) AS unlocked, make_interval(days => @days) AS span,
       generate_series(1, 1) AS one, lower(name) AS lower_name, lower(bio) AS lower_bio,
       concat(bio, 'x') AS concatenated, concat_ws(', ', bio, name) AS joined,
       array_length(ARRAY[]::int[], 1) AS empty_length, scale(@num::numeric) AS scale,
       maybe_null(1) AS user_function, substring(name, 1, 2) AS prefix
FROM authors WHERE id = @id;

-- name: SeriesInFrom :many
SELECT n, o FROM generate_series(1, 3) WITH ORDINALITY AS g(n, o);

-- name: UnnestInFrom :many
SELECT x FROM unnest(ARRAY[1, NULL]::int[]) AS x;

-- name: SystemCatalogs :many
SELECT c.relname, c.relkind, a.attname, a.attnotnull
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relname = 'authors' AND a.attnum > 0 ORDER BY a.attnum;

-- name: InformationSchema :many
SELECT table_name, column_name, is_nullable, ordinal_position
FROM information_schema.columns WHERE table_name = 'authors' ORDER BY ordinal_position;

-- name: CaseGuard :many
SELECT CASE WHEN bio IS NOT NULL THEN bio ELSE 'none' END AS bio_text,
       CASE WHEN rating > 0 THEN rating ELSE 0 END AS rating_or_zero,
       CASE WHEN bio IS NULL THEN bio ELSE 'x' END AS still_nullable
FROM authors ORDER BY id;

-- name: OuterJoinProvenByWhere :many
SELECT b.title, a.name
FROM books b LEFT JOIN authors a ON a.id = b.author_id
WHERE a.id IS NOT NULL ORDER BY b.id;

-- name: OuterJoinProvenByComparison :many
SELECT b.title, a.name FROM books b LEFT JOIN authors a ON a.id = b.author_id
WHERE a.rating >= 1 ORDER BY b.id;

-- name: OuterJoinProvenByInnerJoin :many
SELECT b.title, a.name, b2.title AS other_title
FROM books b
LEFT JOIN authors a ON a.id = b.author_id
JOIN books b2 ON b2.author_id = a.id
ORDER BY b.id, b2.id;

-- name: OuterJoinNotProven :many
SELECT b.title, a.name FROM books b LEFT JOIN authors a ON a.id = b.author_id
WHERE a.bio IS NULL ORDER BY b.id;

-- name: InnerJoinInsideOuterJoin :many
SELECT a.name, b.title
FROM authors a LEFT JOIN (books b JOIN authors a2 ON a2.id = b.author_id) ON b.author_id = a.id
ORDER BY a.id, b.id;

-- name: UpdateReturningInCTE :many
WITH u AS (
    UPDATE authors SET bio = 'updated', rating = NULL WHERE id = @id RETURNING id, bio, rating
)
SELECT id, bio, rating FROM u;

-- name: UpdateSetNullReturning :one
UPDATE authors SET bio = NULL WHERE id = @id AND bio IS NOT NULL RETURNING bio;

-- name: NullifWithCheck :many
SELECT nullif(name, '') AS name, nullif(code, '') AS code, nullif(rating, 0) AS rating,
       nullif(name, 'x') AS name_or_null
FROM authors ORDER BY id;

-- name: LateralAggregate :many
SELECT a.name, s.n, s.total
FROM authors a
LEFT JOIN LATERAL (SELECT count(*) AS n, sum(price) AS total FROM books b WHERE b.author_id = a.id) s ON true
ORDER BY a.id;

-- name: LateralNotOneRow :many
SELECT a.name, s.title
FROM authors a
LEFT JOIN LATERAL (SELECT title FROM books b WHERE b.author_id = a.id LIMIT 1) s ON true
ORDER BY a.id;
