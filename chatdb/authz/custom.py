"""Hand-written authorization for the few methods a policy line cannot express.

The generated wrappers inherit these; ``CUSTOM_METHODS`` in the wrapper lists them and the
type checker proves every one exists (the wrapper must satisfy the querier Protocols).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from chatdb.authz.base import Action, AsyncAuthzBase, AuthzBase, Object, ResourceType
from chatdb.authz.roles import check_site_role_change
from chatdb.db import ChatFile, ChatMessage, UpdateUserSiteRolesRow
from chatdb.errors import NotAuthorized


class CustomAuthz(AuthzBase):
    __slots__ = ()

    def get_chat_message_by_id(self, *, id: int) -> ChatMessage:
        """Read on the message's chat."""
        subject = self._actor()
        message = self._q.get_chat_message_by_id(id=id)
        self._authz.authorize(subject, Action.READ, self._load(ResourceType.CHAT, message.chat_id))
        return message

    def soft_delete_chat_message_by_id(self, *, id: int) -> None:
        """Update on the message's chat."""
        subject = self._actor()
        message = self._q.get_chat_message_by_id(id=id)
        self._authz.authorize(
            subject, Action.UPDATE, self._load(ResourceType.CHAT, message.chat_id)
        )
        self._q.soft_delete_chat_message_by_id(id=id)

    def get_chat_file_by_id(self, *, id: UUID) -> ChatFile:
        """Read on the file, else readable because it is linked to a chat the actor may read."""
        subject = self._actor()
        owner = self._q.get_chat_file_owner_by_id(id=id)
        file = Object(ResourceType.CHAT_FILE, owner.id, owner.owner_id, owner.organization_id)
        if not self._authz.allowed(subject, Action.READ, file):
            linked = self._q.get_chat_ids_by_file_id(file_id=id)
            if not any(
                self._authz.allowed(
                    subject, Action.READ, self._load(ResourceType.CHAT, row.chat_id)
                )
                for row in linked
            ):
                raise NotAuthorized(
                    f"{subject.name} may not read chat_file:{id}",
                    action="read",
                    object=f"chat_file:{id}",
                )
        return self._q.get_chat_file_by_id(id=id)

    def update_user_site_roles(
        self, *, rbac_roles: Sequence[str | None], user_id: UUID
    ) -> UpdateUserSiteRolesRow:
        """Update on the user, and the right to assign each site role added or removed."""
        subject = self._actor()
        self._authz.authorize(subject, Action.UPDATE, Object.user(user_id))
        current = self._q.get_authz_subject_by_user_id(user_id=user_id).rbac_roles
        check_site_role_change(subject, current, rbac_roles)
        return self._q.update_user_site_roles(user_id=user_id, rbac_roles=rbac_roles)


class AsyncCustomAuthz(AsyncAuthzBase):
    __slots__ = ()

    async def get_chat_message_by_id(self, *, id: int) -> ChatMessage:
        subject = self._actor()
        message = await self._q.get_chat_message_by_id(id=id)
        chat = await self._load(ResourceType.CHAT, message.chat_id)
        self._authz.authorize(subject, Action.READ, chat)
        return message

    async def soft_delete_chat_message_by_id(self, *, id: int) -> None:
        subject = self._actor()
        message = await self._q.get_chat_message_by_id(id=id)
        chat = await self._load(ResourceType.CHAT, message.chat_id)
        self._authz.authorize(subject, Action.UPDATE, chat)
        await self._q.soft_delete_chat_message_by_id(id=id)

    async def get_chat_file_by_id(self, *, id: UUID) -> ChatFile:
        subject = self._actor()
        owner = await self._q.get_chat_file_owner_by_id(id=id)
        file = Object(ResourceType.CHAT_FILE, owner.id, owner.owner_id, owner.organization_id)
        if not self._authz.allowed(subject, Action.READ, file):
            for row in await self._q.get_chat_ids_by_file_id(file_id=id):
                chat = await self._load(ResourceType.CHAT, row.chat_id)
                if self._authz.allowed(subject, Action.READ, chat):
                    break
            else:
                raise NotAuthorized(
                    f"{subject.name} may not read chat_file:{id}",
                    action="read",
                    object=f"chat_file:{id}",
                )
        return await self._q.get_chat_file_by_id(id=id)

    async def update_user_site_roles(
        self, *, rbac_roles: Sequence[str | None], user_id: UUID
    ) -> UpdateUserSiteRolesRow:
        subject = self._actor()
        self._authz.authorize(subject, Action.UPDATE, Object.user(user_id))
        current = (await self._q.get_authz_subject_by_user_id(user_id=user_id)).rbac_roles
        check_site_role_change(subject, current, rbac_roles)
        return await self._q.update_user_site_roles(user_id=user_id, rbac_roles=rbac_roles)
