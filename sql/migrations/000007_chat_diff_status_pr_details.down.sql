-- Drops the pull-request detail columns.

ALTER TABLE chat_diff_statuses
    DROP COLUMN head_branch,
    DROP COLUMN reviewer_count,
    DROP COLUMN approved,
    DROP COLUMN commits,
    DROP COLUMN pr_number,
    DROP COLUMN base_branch,
    DROP COLUMN author_avatar_url,
    DROP COLUMN author_login,
    DROP COLUMN pull_request_draft,
    DROP COLUMN pull_request_title;
