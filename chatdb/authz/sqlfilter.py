"""Compile a subject's permissions into a parametrised SQL predicate (the `sql_filter` term).

A list query with a page size must filter in SQL, or a page of 25 returns fewer authorized
rows than exist. The predicate selects exactly the rows ``Authorizer.allowed`` would pass for
an object built from the row's owner and organization columns, e.g.::

    (organization_id = ANY($5::uuid[]) OR (owner_id = $6::uuid AND organization_id = ANY($7::uuid[])))

It uses PostgreSQL's native ``$N`` placeholders numbered from ``first_param`` (the generated
query appends the filter's params to its own). Values only ever travel as parameters; the
column names are identifiers chosen by generated code and are checked against a strict
pattern. The predicate is meant as a WHERE conjunct, where NULL counts as false.

Two things keep it cheap on every call of a list page (measured with ``make bench -k authz``):

* a set of organizations travels as one ``uuid`` compared with ``=`` when it has one member
  (the usual case, and cheaper to plan than ``= ANY``), else as the text form of a ``uuid[]``
  (``{a,b}``) built once with the cached filter: psycopg would work out a dumper for a Python
  list on every execution (each call has a fresh cursor), 20-30 µs of client CPU per page;
* ``org_nullable=False`` (the generated wrapper passes it when the catalog says the column is
  NOT NULL) drops the ``<org> IS NULL`` arm for the actor's own organization-less objects:
  on such a column it can match no row, and the server would plan it on every call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def uuid_array(values: Iterable[UUID]) -> str:
    """The text form of a ``uuid[]`` holding ``values`` in order: ``{id,id}``.

    A UUID's text is hex digits and dashes, so no element needs quoting or escaping; anything
    but a UUID is refused.
    """
    items = []
    for value in values:
        if not isinstance(value, UUID):
            raise TypeError(f"not a UUID: {value!r}")
        items.append(str(value))
    return "{" + ",".join(items) + "}"


def render(
    entry: Entry,
    subject_id: UUID | None,
    *,
    owner_column: str | None,
    org_column: str | None,
    first_param: int,
    org_nullable: bool = True,
) -> SqlFilter:
    """Turn one compiled (subject, type, action) entry into a predicate.

    ``None`` for a column means the table has no such column: its rows are treated as owned
    by nobody / in no organization, exactly as ``Object`` with that field ``None``.
    ``subject_id=None`` (no actor) never matches an owner. ``org_nullable=False`` promises that
    ``org_column`` holds no NULL in a row whose ``owner_column`` does not (both columns of one
    NOT NULL table row): the actor's organization-less objects then match nothing.
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

    def one_of(column: str, ids: frozenset[UUID]) -> str:
        if len(ids) == 1:
            return f"{column} = {param(next(iter(ids)), 'uuid')}"
        return f"{column} = ANY({param(uuid_array(sorted(ids)), 'uuid[]')})"

    if org is not None and entry.org_allow:
        terms.append(one_of(org, entry.org_allow))
    if owner is not None and subject_id is not None:
        if org is None:
            # No organization column: every row is organization-less.
            if entry.owner_orgless:
                terms.append(f"{owner} = {param(subject_id, 'uuid')}")
        else:
            in_orgs = bool(entry.owner_orgs)
            orgless = entry.owner_orgless and org_nullable
            if in_orgs or orgless:
                me = param(subject_id, "uuid")
                conds: list[str] = []
                if in_orgs:
                    conds.append(one_of(org, entry.owner_orgs))
                if orgless:
                    conds.append(f"{org} IS NULL")
                either = conds[0] if len(conds) == 1 else f"({conds[0]} OR {conds[1]})"
                terms.append(f"({owner} = {me} AND {either})")
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
    org_nullable: bool = True,
    authorizer: AuthorizerLike | None = None,
) -> SqlFilter:
    """The predicate for ``subject`` doing ``action`` on rows of ``type`` (cached per inputs).

    Uses the process-wide built-in-roles authorizer unless ``authorizer`` is given;
    ``org_nullable`` as in :func:`render`.
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
        org_nullable=org_nullable,
    )
