-- name: GetChatDiffStatusByChatID :one
-- authz: read chat(chat_id)
SELECT * FROM chat_diff_statuses
WHERE chat_id = @chat_id::uuid;

-- name: GetChatDiffStatusesByChatIDs :many
-- authz: read chat[](chat_ids)
SELECT * FROM chat_diff_statuses
WHERE chat_id = ANY (@chat_ids::uuid[])
ORDER BY chat_id;

-- name: UpsertChatDiffStatusReference :one
-- authz: update chat(chat_id)
-- Records where to look for the chat's pull request. On an existing row a NULL url keeps the
-- old url and an empty git_branch / git_remote_origin keeps the old value, so a partial report
-- never erases what is known; the row's updated_at is bumped.
INSERT INTO chat_diff_statuses (chat_id, url, git_branch, git_remote_origin, stale_at)
VALUES (
    @chat_id::uuid,
    sqlc.narg(url)::text,
    @git_branch::text,
    @git_remote_origin::text,
    @stale_at::timestamptz
)
ON CONFLICT (chat_id) DO UPDATE SET
    url = coalesce(excluded.url, chat_diff_statuses.url),
    git_branch = coalesce(nullif(excluded.git_branch, ''), chat_diff_statuses.git_branch),
    git_remote_origin = coalesce(
        nullif(excluded.git_remote_origin, ''), chat_diff_statuses.git_remote_origin
    ),
    stale_at = excluded.stale_at,
    updated_at = now()
RETURNING *;

-- name: UpsertChatDiffStatus :one
-- authz: update chat(chat_id)
-- A full snapshot of the pull request from the git sync worker; bumps updated_at.
INSERT INTO chat_diff_statuses (
    chat_id, url, pull_request_state, changes_requested, additions, deletions, changed_files,
    pull_request_title, pull_request_draft, author_login, author_avatar_url, base_branch,
    head_branch, pr_number, commits, approved, reviewer_count, refreshed_at, stale_at
)
VALUES (
    @chat_id::uuid,
    sqlc.narg(url)::text,
    sqlc.narg(pull_request_state)::text,
    @changes_requested::boolean,
    @additions::int,
    @deletions::int,
    @changed_files::int,
    @pull_request_title::text,
    @pull_request_draft::boolean,
    sqlc.narg(author_login)::text,
    sqlc.narg(author_avatar_url)::text,
    sqlc.narg(base_branch)::text,
    sqlc.narg(head_branch)::text,
    sqlc.narg(pr_number)::int,
    sqlc.narg(commits)::int,
    sqlc.narg(approved)::boolean,
    sqlc.narg(reviewer_count)::int,
    @refreshed_at::timestamptz,
    @stale_at::timestamptz
)
ON CONFLICT (chat_id) DO UPDATE SET
    url = excluded.url,
    pull_request_state = excluded.pull_request_state,
    changes_requested = excluded.changes_requested,
    additions = excluded.additions,
    deletions = excluded.deletions,
    changed_files = excluded.changed_files,
    pull_request_title = excluded.pull_request_title,
    pull_request_draft = excluded.pull_request_draft,
    author_login = excluded.author_login,
    author_avatar_url = excluded.author_avatar_url,
    base_branch = excluded.base_branch,
    head_branch = excluded.head_branch,
    pr_number = excluded.pr_number,
    commits = excluded.commits,
    approved = excluded.approved,
    reviewer_count = excluded.reviewer_count,
    refreshed_at = excluded.refreshed_at,
    stale_at = excluded.stale_at,
    updated_at = now()
RETURNING *;

-- name: MarkChatDiffStatusStale :exec
-- authz: update chat(chat_id)
-- Asks the git sync worker to refresh soon; changes stale_at only.
UPDATE chat_diff_statuses SET stale_at = @stale_at::timestamptz
WHERE chat_id = @chat_id::uuid;

-- name: AcquireStaleChatDiffStatuses :many
-- authz: system update chat
-- Claims up to limit due rows (stale_at reached, branch and origin known, chat not archived),
-- most overdue first (and returned in that order), skipping rows another worker holds.
-- stale_at moves 5 minutes ahead as a lease: a worker that crashes releases the row when it
-- expires. updated_at is kept: it means "last external change" (a refresh or a stale mark),
-- which the worker reads to decide on backoff.
WITH due AS (
    SELECT s.chat_id, s.stale_at
    FROM chat_diff_statuses AS s
        JOIN chats AS c ON c.id = s.chat_id
    WHERE s.stale_at <= now()
        AND s.git_branch <> ''
        AND s.git_remote_origin <> ''
        AND NOT c.archived
    ORDER BY s.stale_at, s.chat_id
    LIMIT @limit::int
    FOR UPDATE OF s SKIP LOCKED
),
acquired AS (
    UPDATE chat_diff_statuses AS s
    SET stale_at = now() + interval '5 minutes'
    FROM due
    WHERE s.chat_id = due.chat_id
    RETURNING s.*
)
SELECT sqlc.embed(acquired), c.owner_id
FROM acquired
    JOIN due ON due.chat_id = acquired.chat_id
    JOIN chats AS c ON c.id = acquired.chat_id
ORDER BY due.stale_at, acquired.chat_id;

-- name: BackoffChatDiffStatus :exec
-- authz: system update chat
-- Reschedules the next refresh; keeps updated_at.
UPDATE chat_diff_statuses SET stale_at = @stale_at::timestamptz
WHERE chat_id = @chat_id::uuid;
