"""The people of the access tables: the owner of the rows, and everyone else.

Each is a real user whose subject is read back from the database (``subject_for_user``), as
an authentication layer would build it; the system subjects are the library's own.
"""

from __future__ import annotations

from functools import cached_property

from chatdb import db
from chatdb.authz import (
    AUDITOR,
    CHAT_ACCESS,
    CHATD,
    DBPURGE,
    ORGANIZATION_ADMIN,
    OWNER,
    SYSTEM,
    TELEMETRY,
    USER_ADMIN,
    Subject,
    subject_for_user,
)
from tests.authz.expected_access import SUBJECTS
from tests.authz.method_cases import World


class People(World):
    """The method cases' world, with the table's people in it: the owner of the rows and the
    others, each a real user whose subject is read back from the database."""

    @cached_property
    def owner(self) -> db.User:
        return self.f.user(organization_id=self.org.id, rbac_roles=[CHAT_ACCESS])

    @cached_property
    def member(self) -> db.User:
        return self.f.user(organization_id=self.org.id, rbac_roles=[CHAT_ACCESS])

    def subjects(self) -> dict[str, Subject | None]:
        other_org = self.f.organization()
        users = {
            "object_owner": self.owner,
            "other_member": self.member,
            "org_admin": self.f.user(organization_id=self.org.id, org_roles=[ORGANIZATION_ADMIN]),
            "other_org_admin": self.f.user(
                organization_id=other_org.id, org_roles=[ORGANIZATION_ADMIN]
            ),
            "auditor": self.f.user(organization_id=self.org.id, rbac_roles=[AUDITOR]),
            "user_admin": self.f.user(organization_id=self.org.id, rbac_roles=[USER_ADMIN]),
            "site_owner": self.f.user(organization_id=self.org.id, rbac_roles=[OWNER]),
        }
        people: dict[str, Subject | None] = {
            name: subject_for_user(self.q, user.id) for name, user in users.items()
        }
        systems = {"chatd": CHATD, "dbpurge": DBPURGE, "telemetry": TELEMETRY, "system": SYSTEM}
        subjects = {**people, **systems, "no_actor": None}
        assert tuple(subjects) == SUBJECTS
        return subjects
