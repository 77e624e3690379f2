"""Pull-request (diff) status of a chat: where its branch is, and the provider's snapshot.

The agent reports the branch it pushes (:meth:`DiffStatuses.report_git_reference`); the git
sync worker stores what the provider says about the pull request
(:meth:`DiffStatuses.record_pull_request`). Both lock the chat, need update on it, and
publish ``chat.diff_status`` so open sidebars refetch the status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from uuid import UUID

from chatdb.authz import Subject
from chatdb.db import ChatDiffStatus
from chatdb.errors import InvalidInput
from chatdb.events import model as ev
from chatdb.ops._base import Tx, Workflows


@dataclass(frozen=True, slots=True)
class PullRequestStatus:
    """A snapshot of a chat's pull request from the git provider (all of it, every time)."""

    url: str | None
    pull_request_state: str | None = None
    pull_request_title: str = ""
    pull_request_draft: bool = False
    changes_requested: bool = False
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    author_login: str | None = None
    author_avatar_url: str | None = None
    base_branch: str | None = None
    head_branch: str | None = None
    pr_number: int | None = None
    commits: int | None = None
    approved: bool | None = None
    reviewer_count: int | None = None
    refreshed_at: datetime | None = None


def _when(value: datetime | None, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return value


def _checked(status: PullRequestStatus) -> PullRequestStatus:
    if not isinstance(status, PullRequestStatus):
        raise InvalidInput("status must be a PullRequestStatus", field="status")
    for field in ("additions", "deletions", "changed_files", "commits", "reviewer_count"):
        value = getattr(status, field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(f"{field} must be an integer", field=field)
        if value is not None and value < 0:
            raise InvalidInput(f"{field} must be >= 0", field=field)
    if status.refreshed_at is not None:
        _when(status.refreshed_at, "refreshed_at")
    return status


class DiffStatuses(Workflows):
    """Writing a chat's diff status (reading it: ``GetChatDiffStatusByChatID``)."""

    def report_git_reference(
        self,
        chat_id: UUID,
        *,
        git_branch: str = "",
        git_remote_origin: str = "",
        url: str | None = None,
        stale_at: datetime | None = None,
        actor: Subject | None = None,
    ) -> ChatDiffStatus:
        """Record where the chat's work is pushed; empty values keep what is known, and the
        git sync worker refreshes the status after ``stale_at`` (default: now)."""
        for field, value in (("git_branch", git_branch), ("git_remote_origin", git_remote_origin)):
            if not isinstance(value, str):
                raise InvalidInput(f"{field} must be a string", field=field)
        if url is not None and not isinstance(url, str):
            raise InvalidInput("url must be a string", field="url")
        stale = _when(stale_at, "stale_at")

        def body(tx: Tx) -> ChatDiffStatus:
            chat = tx.lock_chat(chat_id)
            row = tx.q.upsert_chat_diff_status_reference(
                chat_id=chat.id,
                url=url,
                git_branch=git_branch,
                git_remote_origin=git_remote_origin,
                stale_at=stale,
            )
            tx.emit(ev.diff_status_changed(chat))
            return row

        return self._run(actor, body)

    def record_pull_request(
        self,
        chat_id: UUID,
        status: PullRequestStatus,
        *,
        stale_at: datetime,
        actor: Subject | None = None,
    ) -> ChatDiffStatus:
        """Store the provider's snapshot of the chat's pull request; refresh after
        ``stale_at``."""
        snapshot = _checked(status)
        stale = _when(stale_at, "stale_at")

        def body(tx: Tx) -> ChatDiffStatus:
            chat = tx.lock_chat(chat_id)
            row = tx.q.upsert_chat_diff_status(chat_id=chat.id, stale_at=stale, **asdict(snapshot))
            tx.emit(ev.diff_status_changed(chat))
            return row

        return self._run(actor, body)


__all__ = ["DiffStatuses", "PullRequestStatus"]
