-- name: Good :one
SELECT 1 AS one;

-- name: BadColumn :many
SELECT id,
       nope
FROM t;

-- name: BadKind :single
SELECT 1;

-- name: Untyped :one
SELECT @x IS NULL AS a;
