"""An authorizer for tests: records every check in order, and can refuse on demand.

Generated tests use it to pin "the exact ordered list of authorization checks a call
performs", and to prove that a refused check stops the call. Without an inner authorizer it
allows everything (only recording); with one it delegates the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

from chatdb.authz.rbac import Action, AuthorizerLike, Object, ResourceType, Subject
from chatdb.authz.sqlfilter import FALSE_FILTER_SQL, TRUE_FILTER_SQL, SqlFilter, check_column
from chatdb.errors import NotAuthorized

CheckKind = Literal["object", "system", "filter"]


class Check(NamedTuple):
    """One check: an object check, a site-wide ("system") check, or a SQL filter request.

    System and filter checks carry ``Object.system(type)`` as their object.
    """

    action: Action
    object: Object
    kind: CheckKind = "object"


class RecordingAuthorizer:
    """Wraps an authorizer (or nothing = allow all) and appends each check to ``calls``.

    ``deny_all`` refuses everything; ``deny`` refuses the listed checks, or the checks a
    predicate returns true for. A refused object check raises NotAuthorized (``allowed``
    returns False) and a refused filter is ``FALSE``.
    """

    def __init__(
        self,
        inner: AuthorizerLike | None = None,
        *,
        deny_all: bool = False,
        deny: Iterable[Check] | Callable[[Check], bool] | None = None,
    ) -> None:
        self.inner = inner
        self.deny_all = deny_all
        if deny is None:
            self._deny: Callable[[Check], bool] = lambda _check: False
        elif callable(deny):
            self._deny = deny
        else:
            refused = frozenset(deny)
            self._deny = refused.__contains__
        self.calls: list[Check] = []

    def reset(self) -> None:
        self.calls.clear()

    def _refused(self, check: Check) -> bool:
        self.calls.append(check)
        return self.deny_all or self._deny(check)

    def allowed(self, subject: Subject | None, action: Action, obj: Object) -> bool:
        if self._refused(Check(action, obj)):
            return False
        return self.inner.allowed(subject, action, obj) if self.inner else subject is not None

    def authorize(self, subject: Subject | None, action: Action, obj: Object) -> None:
        if self._refused(Check(action, obj)):
            raise NotAuthorized(f"refused by test: {action} {obj.describe()}", action=action)
        if self.inner is not None:
            self.inner.authorize(subject, action, obj)
        elif subject is None:
            raise NotAuthorized("no actor", action=action, object=obj.describe())

    def authorize_system(self, subject: Subject | None, action: Action, type: ResourceType) -> None:
        obj = Object.system(type)
        if self._refused(Check(action, obj, "system")):
            raise NotAuthorized(f"refused by test: system {action} {type}", action=action)
        if self.inner is not None:
            self.inner.authorize_system(subject, action, type)
        elif subject is None:
            raise NotAuthorized("no actor", action=action, object=obj.describe())

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
        for column in (owner_column, org_column):
            if column is not None:
                check_column(column)
        if first_param < 1:
            raise ValueError(f"first_param must be >= 1, got {first_param}")
        if self._refused(Check(action, Object.system(type), "filter")):
            return SqlFilter(FALSE_FILTER_SQL, (), first_param)
        if self.inner is not None:
            return self.inner.sql_filter(
                subject,
                action,
                type,
                owner_column=owner_column,
                org_column=org_column,
                first_param=first_param,
                org_nullable=org_nullable,
            )
        return SqlFilter(
            TRUE_FILTER_SQL if subject is not None else FALSE_FILTER_SQL, (), first_param
        )
