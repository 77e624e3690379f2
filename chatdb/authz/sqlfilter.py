"""Compile a subject's permissions into a parametrised SQL predicate (the `sql_filter` term).

A list query with a page size must filter in SQL, or a page of 25 returns fewer authorized
rows than exist. The predicate selects exactly the rows ``Authorizer.allowed`` would pass for
an object built from the row's owner and organization columns, e.g.::

    (organization_id = ANY($5::uuid[]) OR (owner_id = $6::uuid AND organization_id = ANY($7::uuid[])))

It uses PostgreSQL's native ``$N`` placeholders numbered from ``first_param`` (the generated
query appends the filter's params to its own). Values only ever travel as parameters; the
column names are identifiers chosen by generated code and are checked against a strict
pattern. The predicate is meant as a WHERE conjunct, where NULL counts as false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from chatdb.authz.rbac import Action, AuthorizerLike, Entry, ResourceType, Subject

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")


@dataclass(frozen=True, slots=True)
class SqlFilter:
    """A boolean SQL predicate and its parameters (``$first_param`` … ``$next_param - 1``).

    Instances are cached and shared: treat ``params`` (lists of UUIDs inside) as read-only.
    """

    sql: str
    params: tuple[object, ...]
    next_param: int


TRUE_FILTER_SQL = "TRUE"
FALSE_FILTER_SQL = "FALSE"


def check_column(column: str) -> str:
    """Accept only a lower-case identifier, optionally qualified (``c.owner_id``)."""
    if not _IDENTIFIER.fullmatch(column):
        raise ValueError(f"not a plain column identifier: {column!r}")
    return column


def render(
    entry: Entry,
    subject_id: UUID | None,
    *,
    owner_column: str | None,
    org_column: str | None,
    first_param: int,
) -> SqlFilter:
    """Turn one compiled (subject, type, action) entry into a predicate.

    ``None`` for a column means the table has no such column: its rows are treated as owned
    by nobody / in no organization, exactly as ``Object`` with that field ``None``.
    ``subject_id=None`` (no actor) never matches an owner.
    """
    owner = check_column(owner_column) if owner_column is not None else None
    org = check_column(org_column) if org_column is not None else None
    if first_param < 1:
        raise ValueError(f"first_param must be >= 1, got {first_param}")
    if entry.site:
        text = TRUE_FILTER_SQL if entry.site > 0 else FALSE_FILTER_SQL
        return SqlFilter(text, (), first_param)

    terms: list[str] = []
    params: list[object] = []

    def param(value: object, cast: str) -> str:
        params.append(value)
        return f"${first_param + len(params) - 1}::{cast}"

    if org is not None and entry.org_allow:
        terms.append(f"{org} = ANY({param(sorted(entry.org_allow), 'uuid[]')})")
    if owner is not None and subject_id is not None:
        by_org = org is not None and bool(entry.owner_orgs)
        if by_org or entry.owner_orgless:
            me = param(subject_id, "uuid")
            conds: list[str] = []
            if by_org:
                conds.append(f"{org} = ANY({param(sorted(entry.owner_orgs), 'uuid[]')})")
            if entry.owner_orgless and org is not None:
                conds.append(f"{org} IS NULL")
            if not conds:
                terms.append(f"{owner} = {me}")
            elif len(conds) == 1:
                terms.append(f"({owner} = {me} AND {conds[0]})")
            else:
                terms.append(f"({owner} = {me} AND ({conds[0]} OR {conds[1]}))")
    if not terms:
        return SqlFilter(FALSE_FILTER_SQL, (), first_param)
    return SqlFilter("(" + " OR ".join(terms) + ")", tuple(params), first_param + len(params))


def compile_filter(
    subject: Subject | None,
    action: Action,
    type: ResourceType,
    *,
    owner_column: str | None,
    org_column: str | None,
    first_param: int,
    authorizer: AuthorizerLike | None = None,
) -> SqlFilter:
    """The predicate for ``subject`` doing ``action`` on rows of ``type`` (cached per inputs).

    Uses the process-wide built-in-roles authorizer unless ``authorizer`` is given.
    """
    if authorizer is None:
        from chatdb.authz.rbac import default_authorizer

        authorizer = default_authorizer()
    return authorizer.sql_filter(
        subject,
        action,
        type,
        owner_column=owner_column,
        org_column=org_column,
        first_param=first_param,
    )
