-- name: AddTask :one
INSERT INTO tasks (title, state, notes, due) VALUES (@title, @state, @notes, @due) RETURNING *;

-- name: Label :exec
INSERT INTO labels (task_id, label) VALUES (@task_id, @label);

-- name: TaskLabels :many
SELECT t.title, l.label, t.archived_state FROM tasks t JOIN labels l ON l.task_id = t.id ORDER BY l.label;

-- name: Audit :many
SELECT id, what FROM audit;
