-- name: Put :exec
INSERT INTO t (id, colors, maybe_colors, home, homes, place, rank, ranks, contact, path, box, span, during)
VALUES (@id, @colors, @maybe_colors, @home, @homes, @place, @rank, @ranks, @contact, @path, @box, @span, @during);

-- name: Get :one
SELECT * FROM t WHERE id = @id;

-- name: ColorsOf :one
SELECT colors, maybe_colors FROM t WHERE id = @id;

-- name: Homes :one
SELECT home, homes, (home).street AS street, place FROM t WHERE id = @id;

-- name: Literals :one
SELECT ARRAY['red', '#']::color[] AS colors,
       ROW('Main "St", 1', 7, 'blue-ish', '2026-01-02 03:04:05+00', ARRAY['a b', 'c"d'])::address AS addr,
       ARRAY[ROW('x', NULL, NULL, NULL, NULL)::address] AS addrs;

-- name: Sleep :one
SELECT pg_sleep(0) AS slept;

-- name: Touch :one
SELECT pg_sleep(0);

-- name: WholeRow :one
SELECT t FROM t WHERE id = @id;
