-- name: Unit :one
SELECT cube(1.0) AS c;

-- name: Ids :many
SELECT id FROM shapes ORDER BY id;
