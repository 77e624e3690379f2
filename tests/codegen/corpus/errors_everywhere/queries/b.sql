-- name: Good :one
SELECT 2 AS two;

-- name: NoColumns :one
DELETE FROM t;

-- name: Syntax :exec
SELECT FROM WHERE;

-- name: Gap :one
SELECT $2::int AS b;
