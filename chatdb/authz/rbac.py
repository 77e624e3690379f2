"""Role-based access control: the vocabulary (actions, objects, subjects, roles) and the engine.

The model follows Coder's ``rbac`` package. A role carries permissions at three levels:

* ``site`` — any object of the type, anywhere;
* ``org`` — objects in the organization(s) the role is held for;
* ``user`` — objects the subject itself owns, inside those organizations (or owning no org).

A check walks the levels site → org → user. The first level that has any permission
matching (type, action) decides: a negated permission there refuses, a grant there allows.
No matching level refuses. So a negation at a higher level beats a grant below it.

Where a role applies depends on where it is held:

* held as a **site role** (``Subject.site_roles``, i.e. ``users.rbac_roles``): its site
  permissions apply everywhere, its org permissions in every organization the subject is a
  member of, its user permissions to the subject's own objects in those organizations and to
  its own objects that belong to no organization;
* held as an **organization role** (``Subject.org_roles[org]``): its org permissions apply in
  that organization, its user permissions to the subject's own objects in that organization,
  and it can never grant site-wide permissions.

Each subject is compiled once into per-(type, action) entries of a few frozensets and cached,
so a check is a handful of dict/set lookups.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol
from uuid import UUID

from chatdb.authz.sqlfilter import SqlFilter, render
from chatdb.errors import NotAuthorized


class Action(StrEnum):
    """What a subject wants to do with an object."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    READ_PERSONAL = "read_personal"
    UPDATE_PERSONAL = "update_personal"


class ResourceType(StrEnum):
    """Kinds of object. ``WILDCARD`` only appears in permissions and scopes, never on an object.

    ``SECRET`` is the clear value of a live credential (a secret column, ``[tool.codegen.secrets]``):
    reading it is granted by name only, never by the wildcard, so a role that may do "everything"
    (the site owner) still reads secrets redacted. Its owner is the user a personal secret (an
    MCP token) belongs to, None for the deployment's own (provider keys, MCP server secrets).
    """

    CHAT = "chat"
    CHAT_FILE = "chat_file"
    DEPLOYMENT_CONFIG = "deployment_config"
    USER = "user"
    ORGANIZATION = "organization"
    ORGANIZATION_MEMBER = "organization_member"
    GROUP = "group"
    WORKSPACE = "workspace"
    SYSTEM = "system"
    SECRET = "secret"
    WILDCARD = "*"


CONCRETE_TYPES: tuple[ResourceType, ...] = tuple(
    t for t in ResourceType if t is not ResourceType.WILDCARD
)

NAMED_ONLY_TYPES: frozenset[ResourceType] = frozenset({ResourceType.SECRET})
"""Types the wildcard does not cover: a permission (or scope) must name them."""


def _covers(granted: ResourceType, type: ResourceType) -> bool:
    if granted is ResourceType.WILDCARD:
        return type not in NAMED_ONLY_TYPES
    return granted == type


Placement = Literal["site", "org"]


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True, slots=True)
class Object:
    """The thing being acted on. ``None`` fields mean "not applicable" (e.g. site-wide checks)."""

    type: ResourceType
    id: UUID | None = None
    owner_id: UUID | None = None
    org_id: UUID | None = None

    @classmethod
    def chat(cls, id: UUID | None, owner_id: UUID, org_id: UUID) -> Object:
        """A chat row; pass ``id=None`` for a chat about to be inserted."""
        return cls(ResourceType.CHAT, id, owner_id, org_id)

    @classmethod
    def chat_file(cls, id: UUID | None, owner_id: UUID, org_id: UUID) -> Object:
        return cls(ResourceType.CHAT_FILE, id, owner_id, org_id)

    @classmethod
    def deployment_config(cls) -> Object:
        """Deployment-wide configuration (providers, models, MCP servers, limits, settings)."""
        return cls(ResourceType.DEPLOYMENT_CONFIG)

    @classmethod
    def user(cls, user_id: UUID) -> Object:
        """A user; users own themselves, which is what read_personal/update_personal rely on."""
        return cls(ResourceType.USER, user_id, user_id, None)

    @classmethod
    def organization(cls, org_id: UUID) -> Object:
        """An organization lives in itself, so its own org-level roles apply to it."""
        return cls(ResourceType.ORGANIZATION, org_id, None, org_id)

    @classmethod
    def organization_member(cls, user_id: UUID, org_id: UUID) -> Object:
        return cls(ResourceType.ORGANIZATION_MEMBER, user_id, user_id, org_id)

    @classmethod
    def group(cls, group_id: UUID, org_id: UUID) -> Object:
        return cls(ResourceType.GROUP, group_id, None, org_id)

    @classmethod
    def workspace(cls, id: UUID, owner_id: UUID, org_id: UUID) -> Object:
        return cls(ResourceType.WORKSPACE, id, owner_id, org_id)

    @classmethod
    def secret(cls, owner_id: UUID | None = None) -> Object:
        """The clear value of a secret; ``owner_id`` for a personal one (a user's token)."""
        return cls(ResourceType.SECRET, None, owner_id, None)

    @classmethod
    def system(cls, type: ResourceType) -> Object:
        """Every object of ``type`` at once: only a site-wide permission can match it."""
        return cls(type)

    def describe(self) -> str:
        return f"{self.type}:{self.id}" if self.id is not None else f"{self.type}:*"


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True, slots=True)
class Scope:
    """An extra limit on what a subject may do, whatever its roles say.

    ``allow`` is an allow-list of (type, action) pairs (type may be the wildcard); ``None``
    means unrestricted. A check passes only if the roles allow it *and* the scope does.
    """

    name: str
    allow: frozenset[tuple[ResourceType, Action]] | None = None

    @classmethod
    def restricted(cls, name: str, pairs: Iterable[tuple[ResourceType, Action]]) -> Scope:
        return cls(name, frozenset((ResourceType(t), Action(a)) for t, a in pairs))

    def allows(self, type: ResourceType, action: Action) -> bool:
        if self.allow is None:
            return True
        if (type, action) in self.allow:
            return True
        return type not in NAMED_ONLY_TYPES and (ResourceType.WILDCARD, action) in self.allow


SCOPE_ALL = Scope("all")


class OrgRoles(Mapping[UUID, tuple[str, ...]]):
    """An immutable, hashable org id → role names mapping (so a Subject can key a cache)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[UUID, Iterable[str]] | None = None) -> None:
        items = sorted((org, tuple(sorted(set(names)))) for org, names in (data or {}).items())
        self._data: dict[UUID, tuple[str, ...]] = dict(items)
        self._hash = hash(tuple(items))

    def __getitem__(self, key: UUID) -> tuple[str, ...]:
        return self._data[key]

    def __iter__(self) -> Iterator[UUID]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OrgRoles):
            return self._data == other._data
        return NotImplemented

    def __repr__(self) -> str:
        return f"OrgRoles({self._data!r})"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is acting. Immutable and hashable (the hash is computed once) to key caches.

    Inputs are normalised: roles are sorted and de-duplicated, ``memberships`` always includes
    every organization the subject holds an organization role in (holding one implies
    membership).
    """

    id: UUID
    name: str
    site_roles: Sequence[str] = ()
    org_roles: Mapping[UUID, Iterable[str]] = field(default_factory=OrgRoles)
    group_ids: Collection[UUID] = frozenset()
    scope: Scope = SCOPE_ALL
    memberships: Collection[UUID] = frozenset()
    is_system: bool = False
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        org_roles = (
            self.org_roles if isinstance(self.org_roles, OrgRoles) else OrgRoles(self.org_roles)
        )
        setattr_ = object.__setattr__
        setattr_(self, "site_roles", tuple(sorted(set(self.site_roles))))
        setattr_(self, "org_roles", org_roles)
        setattr_(self, "group_ids", frozenset(self.group_ids))
        setattr_(self, "memberships", frozenset(self.memberships) | frozenset(org_roles))
        setattr_(
            self,
            "_hash",
            hash(
                (
                    self.id,
                    self.name,
                    self.site_roles,
                    org_roles,
                    self.group_ids,
                    self.scope,
                    self.memberships,
                    self.is_system,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash


# --------------------------------------------------------------------------- roles


@dataclass(frozen=True, slots=True)
class Permission:
    """Allow (or, negated, refuse) ``action`` on ``type``. ``action=None`` means every action."""

    type: ResourceType
    action: Action | None = None
    negate: bool = False

    def matches(self, type: ResourceType, action: Action) -> bool:
        return _covers(self.type, type) and (self.action is None or self.action == action)


def allow(type: ResourceType, *actions: Action) -> tuple[Permission, ...]:
    """Grant ``actions`` (all actions when none are given) on ``type``."""
    return tuple(Permission(type, a) for a in actions) or (Permission(type),)


def deny(type: ResourceType, *actions: Action) -> tuple[Permission, ...]:
    """Refuse ``actions`` (all actions when none are given) on ``type``; beats lower grants."""
    return tuple(Permission(type, a, True) for a in actions) or (Permission(type, None, True),)


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of permissions at the three levels, and where it may be held.

    ``system_only`` roles count only for subjects with ``is_system`` set, so writing such a
    name into a user's role list grants nothing.
    """

    name: str
    site: tuple[Permission, ...] = ()
    org: tuple[Permission, ...] = ()
    user: tuple[Permission, ...] = ()
    placements: frozenset[Placement] = frozenset({"site"})
    system_only: bool = False

    def __post_init__(self) -> None:
        if "org" in self.placements and self.site:
            # An organization admin assigns org roles; they must never reach site-wide.
            raise ValueError(f"role {self.name!r} can be held per organization: no site perms")
        if not self.placements:
            raise ValueError(f"role {self.name!r} has no placement")


def _decide(perms: Iterable[Permission], type: ResourceType, action: Action) -> int:
    """-1 if a matching negation exists, 1 if a matching grant exists, 0 if nothing matches."""
    result = 0
    for p in perms:
        if p.matches(type, action):
            if p.negate:
                return -1
            result = 1
    return result


def _of_type(perms: Iterable[Permission], type: ResourceType) -> list[Permission]:
    return [p for p in perms if _covers(p.type, type)]


# --------------------------------------------------------------------------- engine


@dataclass(frozen=True, slots=True)
class Entry:
    """One subject's compiled permissions for one (type, action).

    ``site``: -1 refuse everything, 1 allow everything, 0 look further. ``org_allow``:
    organizations where every object is allowed. ``owner_orgs``: organizations where the
    subject's *own* objects are allowed; an org whose org level matched (grant or negation)
    is never in it, which is how an org-level negation beats a user-level grant.
    ``owner_orgless``: whether its own objects that have no organization are allowed.
    """

    site: int
    org_allow: frozenset[UUID] = frozenset()
    owner_orgs: frozenset[UUID] = frozenset()
    owner_orgless: bool = False


DENY_ALL = Entry(site=-1)
ALLOW_ALL = Entry(site=1)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSubject:
    """A subject's permissions for every concrete (type, action); identity-hashed."""

    subject: Subject
    entries: Mapping[tuple[str, str], Entry]

    def entry(self, type: ResourceType, action: Action) -> Entry:
        """Missing pairs (wildcard or unknown type/action) refuse: fail closed."""
        return self.entries.get((type, action), DENY_ALL)


class AuthorizerLike(Protocol):
    """What the generated ``AuthzQuerier`` needs; ``Authorizer`` and ``RecordingAuthorizer``."""

    def authorize(self, subject: Subject | None, action: Action, obj: Object) -> None: ...

    def allowed(self, subject: Subject | None, action: Action, obj: Object) -> bool: ...

    def authorize_system(
        self, subject: Subject | None, action: Action, type: ResourceType
    ) -> None: ...

    def sql_filter(
        self,
        subject: Subject | None,
        action: Action,
        type: ResourceType,
        *,
        owner_column: str | None,
        org_column: str | None,
        first_param: int,
        org_nullable: bool = True,
    ) -> SqlFilter: ...


def _refusal(subject: Subject | None, action: Action, what: str) -> NotAuthorized:
    if subject is None:
        return NotAuthorized("no actor", action=str(action), object=what)
    return NotAuthorized(
        f"{subject.name} ({subject.id}) may not {action} {what}", action=str(action), object=what
    )


class Authorizer:
    """Decides checks against a role registry, caching each subject's compiled permissions.

    ``None`` as subject (no actor) is always refused. Thread-safe: compiled data is immutable
    and the caches are ``functools.lru_cache``.
    """

    def __init__(
        self,
        roles: Mapping[str, Role] | None = None,
        *,
        implicit_org_role: str | None = None,
        cache_size: int = 4096,
    ) -> None:
        from chatdb.authz import roles as builtin

        self.roles: Mapping[str, Role] = dict(builtin.BUILTIN_ROLES if roles is None else roles)
        # Being a member of an organization implies this org role (as in Coder).
        self.implicit_org_role = (
            builtin.ORGANIZATION_MEMBER if implicit_org_role is None else implicit_org_role
        )
        self.compiled = functools.lru_cache(maxsize=cache_size)(self._compile)
        self._filters = functools.lru_cache(maxsize=cache_size)(self._build_filter)

    # -- checks

    def allowed(self, subject: Subject | None, action: Action, obj: Object) -> bool:
        """Whether ``subject`` may perform ``action`` on ``obj``."""
        if subject is None:
            return False
        e = self.compiled(subject).entries.get((obj.type, action), DENY_ALL)
        if e.site:
            return e.site > 0
        org = obj.org_id
        if org is not None and org in e.org_allow:
            return True
        if obj.owner_id is None or obj.owner_id != subject.id:
            return False
        if org is None:
            return e.owner_orgless
        return org in e.owner_orgs

    def authorize(self, subject: Subject | None, action: Action, obj: Object) -> None:
        """Raise NotAuthorized unless ``subject`` may perform ``action`` on ``obj``."""
        if not self.allowed(subject, action, obj):
            raise _refusal(subject, action, obj.describe())

    def allowed_system(self, subject: Subject | None, action: Action, type: ResourceType) -> bool:
        """Whether ``subject`` holds a site-wide grant of ``action`` on ``type``."""
        if subject is None:
            return False
        return self.compiled(subject).entries.get((type, action), DENY_ALL).site > 0

    def authorize_system(self, subject: Subject | None, action: Action, type: ResourceType) -> None:
        """The "system <action> <type>" policy term: only a site-wide grant passes."""
        if not self.allowed_system(subject, action, type):
            raise _refusal(subject, action, f"{type}:* (site-wide)")

    def sql_filter(
        self,
        subject: Subject | None,
        action: Action,
        type: ResourceType,
        *,
        owner_column: str | None,
        org_column: str | None,
        first_param: int,
        org_nullable: bool = True,
    ) -> SqlFilter:
        """A predicate selecting exactly the rows ``allowed`` would pass (see sqlfilter)."""
        return self._filters(
            subject, action, type, owner_column, org_column, first_param, org_nullable
        )

    # -- compilation

    def _build_filter(
        self,
        subject: Subject | None,
        action: Action,
        type: ResourceType,
        owner_column: str | None,
        org_column: str | None,
        first_param: int,
        org_nullable: bool,
    ) -> SqlFilter:
        if type not in CONCRETE_TYPES:
            raise ValueError(f"sql filter needs a concrete resource type, not {type!r}")
        if subject is None:
            entry, subject_id = DENY_ALL, None
        else:
            entry = self.compiled(subject).entries.get((type, action), DENY_ALL)
            subject_id = subject.id
        return render(
            entry,
            subject_id,
            owner_column=owner_column,
            org_column=org_column,
            first_param=first_param,
            org_nullable=org_nullable,
        )

    def _held_roles(self, subject: Subject) -> tuple[list[Role], dict[UUID, list[Role]]]:
        """The roles that count, by placement; unknown or misplaced names grant nothing."""

        def usable(name: str, placement: Placement) -> Role | None:
            role = self.roles.get(name)
            if role is None or placement not in role.placements:
                return None
            if role.system_only and not subject.is_system:
                return None
            return role

        site = [r for n in subject.site_roles if (r := usable(n, "site")) is not None]
        by_org: dict[UUID, list[Role]] = {}
        for org in subject.memberships:
            names = set(subject.org_roles.get(org, ()))
            names.add(self.implicit_org_role)
            by_org[org] = [r for n in sorted(names) if (r := usable(n, "org")) is not None]
        return site, by_org

    def _compile(self, subject: Subject) -> CompiledSubject:
        site_roles, org_roles = self._held_roles(subject)
        site_perms = [p for r in site_roles for p in r.site]
        site_user_perms = [p for r in site_roles for p in r.user]
        # Per member org: (org-level perms, user-level perms) that apply there.
        per_org = [
            (
                org,
                [p for r in site_roles for p in r.org] + [p for r in roles for p in r.org],
                site_user_perms + [p for r in roles for p in r.user],
            )
            for org, roles in org_roles.items()
        ]
        entries: dict[tuple[str, str], Entry] = {}
        for type in CONCRETE_TYPES:
            # Narrow every list to this type once; most roles never mention most types.
            t_site, t_user = _of_type(site_perms, type), _of_type(site_user_perms, type)
            t_orgs = [(o, _of_type(op, type), _of_type(up, type)) for o, op, up in per_org]
            for action in Action:
                entries[(type, action)] = self._entry(subject, type, action, t_site, t_user, t_orgs)
        return CompiledSubject(subject, entries)

    @staticmethod
    def _entry(
        subject: Subject,
        type: ResourceType,
        action: Action,
        site_perms: list[Permission],
        site_user_perms: list[Permission],
        per_org: list[tuple[UUID, list[Permission], list[Permission]]],
    ) -> Entry:
        if not subject.scope.allows(type, action):
            return DENY_ALL
        site = _decide(site_perms, type, action)
        if site:
            return ALLOW_ALL if site > 0 else DENY_ALL
        org_allow: set[UUID] = set()
        owner_orgs: set[UUID] = set()
        for org, org_perms, user_perms in per_org:
            at_org = _decide(org_perms, type, action)
            if at_org > 0:
                org_allow.add(org)
            elif at_org == 0 and _decide(user_perms, type, action) > 0:
                owner_orgs.add(org)
        owner_orgless = _decide(site_user_perms, type, action) > 0
        if not (org_allow or owner_orgs or owner_orgless):
            return DENY_ALL  # nothing is allowed anywhere: the same as refusing at site level
        return Entry(
            site=0,
            org_allow=frozenset(org_allow),
            owner_orgs=frozenset(owner_orgs),
            owner_orgless=owner_orgless,
        )


@functools.cache
def default_authorizer() -> Authorizer:
    """The process-wide authorizer over the built-in roles."""
    return Authorizer()
