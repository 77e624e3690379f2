"""File workflows: storing an upload or a tool's output (a screen recording) as a chat file."""

from __future__ import annotations

from uuid import UUID

from chatdb.authz import Subject
from chatdb.db import InsertChatFileRow
from chatdb.errors import Conflict, FileTooLarge, InvalidInput
from chatdb.ops._base import MAX_FILE_LINKS_PER_CHAT, Tx, Workflows, resolve_actor

MAX_CHAT_FILE_BYTES = FileTooLarge.LIMIT_BYTES
"""100 MB, the seeds' hard limit per recording; the database CHECKs the same."""


def _text(value: object, field: str, *, allow_empty: bool) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    return value


class Files(Workflows):
    """Chat files: what messages cite in their file parts."""

    def upload_file(
        self,
        *,
        name: str,
        mimetype: str,
        data: bytes,
        organization_id: UUID | None = None,
        owner_id: UUID | None = None,
        chat_id: UUID | None = None,
        actor: Subject | None = None,
    ) -> InsertChatFileRow:
        """Store a file; returns its metadata.

        A file larger than 100 MB is refused (FileTooLarge) before anything is sent. With
        ``chat_id`` (a tool's output, e.g. a recording) the file belongs to that chat's owner
        and organization and is linked to the chat in the same transaction; the chat must be
        live. Otherwise it belongs to ``owner_id`` (default: the actor) in ``organization_id``.
        """
        subject = resolve_actor(actor)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput("data must be bytes", field="data")
        payload = bytes(data)
        if len(payload) > MAX_CHAT_FILE_BYTES:
            raise FileTooLarge(size=len(payload))
        file_name = _text(name, "name", allow_empty=True)
        media_type = _text(mimetype, "mimetype", allow_empty=False)
        if chat_id is not None and (organization_id is not None or owner_id is not None):
            raise InvalidInput(
                "a file stored for a chat takes the chat's owner and organization",
                field="chat_id",
            )
        if chat_id is None and organization_id is None:
            raise InvalidInput("organization_id is required", field="organization_id")

        def body(tx: Tx) -> InsertChatFileRow:
            if chat_id is not None:
                chat = tx.lock_live_chat(chat_id)
                owner, org = chat.owner_id, chat.organization_id
            else:
                owner = owner_id if owner_id is not None else subject.id
                assert organization_id is not None
                org = organization_id
            meta = tx.q.insert_chat_file(
                owner_id=owner,
                organization_id=org,
                name=file_name,
                mimetype=media_type,
                data=payload,
            )
            if chat_id is not None:
                refused = tx.q.link_chat_files(
                    chat_id=chat_id, file_ids=[meta.id], max_links=MAX_FILE_LINKS_PER_CHAT
                ).refused
                if refused:
                    raise Conflict(
                        f"chat {chat_id} would have more than {MAX_FILE_LINKS_PER_CHAT} files"
                    )
            return meta

        return self._run(subject, body)


__all__ = ["MAX_CHAT_FILE_BYTES", "Files"]
