"""The ``-- authz:`` policy language and the authorization wrapper rendered from it.

Policy terms (one per query)::

    fetch <action> <type>                 run, then authorize <action> on the returned row(s)
    post_filter <action> <type>           run, then drop rows the actor may not <action>
    sql_filter <action> <type>            compile the actor's permissions into the query's
                                          `/* authz:filter */ TRUE` placeholder
    <action> <type>(<param>)              load the object whose id is <param>, authorize, run
    <action> <type>[](<param>)            the same for every id in an array parameter
    <action> <type>(owner=<p>[, org=<p>]) authorize on an object built from parameters
    system <action> <type>                only a site-wide grant passes
    deployment_config <action>            read/update the deployment configuration
    personal <read|update> <type>(<p>)    read_personal/update_personal on <p>
    any_actor                             any authenticated actor
    custom <reason>                       hand-written in the runtime's custom mixin
    <check> or <check>                    the first check, else the second (checks that run
                                          before the query: system, deployment_config,
                                          personal, <action> <type>(...))
    <check> and <check> [and ...]         every check, in order (e.g. update the chat and
                                          read each file linked to it)
    is_actor(<param>)                     <param> is NULL or the actor's own id (a
    is_actor[](<param>)                   created_by is never chosen by the caller); the
                                          array form checks every element
    ... and waive(<param>: "<reason>")    see "References" below

References (checked when the wrapper settings map tables to resource types)::

A parameter *refers to* an authorized object when the query writes it into, or compares it
with, a column whose foreign key points at the primary key of a table listed under
``[tool.codegen.wrapper] types``, or compares it with that primary key itself (see
``codegen.references``). Every such parameter must be checked by the policy, or the query
does not compile (the error names file:line, the query, the parameter and the column):

* ``<action> <type>(p)``, ``<type>[](p)``, ``personal ... <type>(p)`` check p as a <type>;
* ``<action> <type>(owner=p, org=q)`` checks p as a user and q as an organization;
* ``is_actor(p)`` checks p as a user; ``deployment_config <action>`` checks every reference to
  a deployment_config table; ``system <action> <type>`` every reference to a <type>;
* ``fetch`` / ``post_filter`` / ``sql_filter`` check what the query *compares* with the rows
  they authorize: columns of the statement's own FROM, and (sql_filter) of any sub-select
  holding its own ``/* authz:filter */ TRUE`` placeholder. What a query writes is never
  checked by authorizing its result;
* ``A or B`` checks what both check; ``A and B`` what either checks; ``custom`` is
  hand-written and answers for its own checks.

When a reference needs no check, say why in the policy line:
``update chat(id) and waive(last_model_config_id: "naming a model grants nothing of it")``.
The reason is quoted, has at least three words, and may not contain a double quote. Waiving a
parameter the policy already checks, or one that refers to nothing, is an error too, so
waivers do not outlive their reason.

Actions: create, read, update, delete. The wrapper implements the same Protocol as the plain
queriers; it imports its runtime (base classes, Action, ResourceType, Object) from the module
named by ``authz_runtime``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from codegen.catalog import Catalog
from codegen.compiler import EmbedIR, FieldIR, QueryIR
from codegen.config import AuthzSettings, SecretSpec
from codegen.errors import CodegenError
from codegen.parse import AUTHZ_FILTER_MARKER
from codegen.references import Reference
from codegen.render import returns_rows

ACTIONS = ("create", "read", "update", "delete")
_IDENT = r"[a-z_][a-z0-9_]*"
_PATTERNS = {
    "rows": re.compile(
        rf"^(?P<term>fetch|post_filter|sql_filter)\s+(?P<action>{_IDENT})\s+(?P<type>{_IDENT})$"
    ),
    "system": re.compile(rf"^system\s+(?P<action>{_IDENT})\s+(?P<type>{_IDENT})$"),
    "deployment": re.compile(rf"^deployment_config\s+(?P<action>{_IDENT})$"),
    "personal": re.compile(
        rf"^personal\s+(?P<action>read|update)\s+(?P<type>{_IDENT})\((?P<param>{_IDENT})\)$"
    ),
    "load": re.compile(
        rf"^(?P<action>{_IDENT})\s+(?P<type>{_IDENT})(?P<many>\[\])?\((?P<param>{_IDENT})\)$"
    ),
    "is_actor": re.compile(rf"^is_actor(?P<many>\[\])?\((?P<param>{_IDENT})\)$"),
    "build": re.compile(
        rf"^(?P<action>{_IDENT})\s+(?P<type>{_IDENT})\(owner=(?P<owner>{_IDENT})(?:,\s*org=(?P<org>{_IDENT}))?\)$"
    ),
}


@dataclass(frozen=True)
class Policy:
    term: str  # fetch | post_filter | sql_filter | load | load_many | build | system | deployment_config | personal | any_actor | custom
    action: str = ""
    type: str = ""
    param: str = ""
    owner: str = ""
    org: str = ""
    text: str = ""
    alternative: Policy | None = None  # `<check> or <check>`: tried when this one refuses
    also: tuple[Policy, ...] = ()  # `<check> and <check>`: checked after this one
    waivers: tuple[tuple[str, str], ...] = ()  # (parameter, reason): references left unchecked


_PRE_CHECKS = ("system", "deployment_config", "personal", "load", "build")
_AND_TERMS = (*_PRE_CHECKS, "load_many", "is_actor", "is_actor_many")
_WAIVER = re.compile(r"\s+and\s+waive\((?P<param>[^:()]*):\s*\"(?P<reason>[^\"]*)\"\s*\)")
_MIN_REASON_WORDS = 3


def parse_policy(text: str, query: QueryIR) -> Policy:
    """Parse and validate one query's policy against its parameters and result row."""
    loc = query.location
    waivers: list[tuple[str, str]] = []
    for m in _WAIVER.finditer(text):
        param, reason = m["param"].strip(), " ".join(m["reason"].split())
        if param not in {p.name for p in query.params}:
            raise CodegenError(f"waive({param}: ...) names no parameter of the query", loc)
        if len(reason.split()) < _MIN_REASON_WORDS:
            raise CodegenError(
                f"waive({param}: ...) needs a reason of at least "
                f"{_MIN_REASON_WORDS} words saying why the reference needs no check, "
                f'e.g. waive({param}: "checked by <what>")',
                loc,
            )
        if param in (w[0] for w in waivers):
            raise CodegenError(f"{param} is waived twice", loc)
        waivers.append((param, reason))
    rest = _WAIVER.sub("", text)
    if re.search(r"\bwaive\b", rest):
        raise CodegenError(
            f"a waiver reads '<policy> and waive(<param>: \"<reason>\")' "
            f"with a quoted reason, in {text!r}",
            loc,
        )
    policy = _parse(rest, query)
    if not waivers:
        return policy
    return dataclasses.replace(policy, waivers=tuple(waivers), text=" ".join(text.split()))


def _parse(text: str, query: QueryIR) -> Policy:
    text = " ".join(text.split())
    if " and " in text:
        parts = [_parse(part, query) for part in text.split(" and ")]
        if any(p.term not in _AND_TERMS for p in parts):
            raise CodegenError(
                f"'and' joins checks made before the query, not {text!r}", query.location
            )
        return dataclasses.replace(parts[0], text=text, also=tuple(parts[1:]))
    if " or " in text:
        first_text, _, second_text = text.partition(" or ")
        first, second = _parse(first_text, query), _parse(second_text, query)
        if first.term not in _PRE_CHECKS[1:] or second.term not in _PRE_CHECKS:
            raise CodegenError(
                f"'or' joins checks made before the query, not {text!r}", query.location
            )
        return dataclasses.replace(first, text=text, alternative=second)
    loc = query.location
    if text == "any_actor":
        return Policy("any_actor", text=text)
    if text == "custom" or text.startswith("custom "):
        return Policy("custom", text=text)
    params = {p.name for p in query.params}
    policy: Policy | None = None
    if m := _PATTERNS["rows"].match(text):
        policy = Policy(m["term"], m["action"], m["type"], text=text)
    elif m := _PATTERNS["system"].match(text):
        policy = Policy("system", m["action"], m["type"], text=text)
    elif m := _PATTERNS["deployment"].match(text):
        policy = Policy("deployment_config", m["action"], "deployment_config", text=text)
    elif m := _PATTERNS["personal"].match(text):
        policy = Policy("personal", m["action"], m["type"], param=m["param"], text=text)
    elif m := _PATTERNS["is_actor"].match(text):
        term = "is_actor_many" if m["many"] else "is_actor"
        policy = Policy(term, "read", "user", param=m["param"], text=text)
    elif m := _PATTERNS["build"].match(text):
        policy = Policy(
            "build", m["action"], m["type"], owner=m["owner"], org=m["org"] or "", text=text
        )
    elif m := _PATTERNS["load"].match(text):
        term = "load_many" if m["many"] else "load"
        policy = Policy(term, m["action"], m["type"], param=m["param"], text=text)
    if policy is None:
        raise CodegenError(f"unknown authz policy {text!r}", loc)
    if policy.action not in ACTIONS:
        raise CodegenError(f"authz policy {text!r}: unknown action {policy.action!r}", loc)
    for name in (policy.param, policy.owner, policy.org):
        if name and name not in params:
            raise CodegenError(f"authz policy {text!r}: query has no parameter {name!r}", loc)
    if policy.term in ("fetch", "post_filter") and query.row is None:
        raise CodegenError(f"authz policy {text!r} needs a query that returns rows", loc)
    if policy.term == "sql_filter":
        if AUTHZ_FILTER_MARKER + " TRUE" not in query.sql:
            raise CodegenError(
                f"sql_filter needs the placeholder '{AUTHZ_FILTER_MARKER} TRUE' in a WHERE clause",
                loc,
            )
        if query.kind != ":many":
            raise CodegenError("sql_filter is for :many queries", loc)
    elif AUTHZ_FILTER_MARKER in query.sql:
        raise CodegenError("the authz filter placeholder needs an 'sql_filter' policy", loc)
    if query.uses_params_class and policy.term not in (
        "system",
        "deployment_config",
        "any_actor",
        "custom",
    ):
        raise CodegenError(
            f"{query.kind} queries support only system/deployment_config/any_actor/custom policies",
            loc,
        )
    return policy


def _object_of_row(
    query: QueryIR, policy: Policy, var: str, settings: AuthzSettings, aw: str
) -> str:
    """Expression building the authz Object for a returned row (or loading it by id)."""
    assert query.row is not None
    rtype = f"ResourceType.{policy.type.upper()}"
    fields = {f.name: f for f in query.row.fields}
    table = settings.type_tables.get(policy.type)
    for f in query.row.fields:
        if isinstance(f, EmbedIR) and f.model.table == table and not f.nullable:
            return f"Object({rtype}, {var}.{f.name}.id, {var}.{f.name}.owner_id, {var}.{f.name}.organization_id)"
    if {"id", "owner_id", "organization_id"} <= set(fields):
        return f"Object({rtype}, {var}.id, {var}.owner_id, {var}.organization_id)"
    for key in ("id", f"{policy.type}_id"):
        found = fields.get(key)
        if isinstance(found, FieldIR) and not found.nullable:
            return f"{aw}self._load({rtype}, {var}.{key})"
    raise CodegenError(
        f"cannot tell which {policy.type} a row of {query.name} is: return id, owner_id and "
        f"organization_id (or embed {table or policy.type})",
        query.location,
    )


def _created_object(query: QueryIR, policy: Policy, settings: AuthzSettings) -> str | None:
    """The object a ``create <type>(owner=, org=)`` statement returns, when its row carries
    the new row's id, owner_id and organization_id straight from the type's table."""
    table = settings.type_tables.get(policy.type)
    if policy.term != "build" or query.kind != ":one" or query.row is None or table is None:
        return None
    fields = {f.name: f for f in query.row.fields if isinstance(f, FieldIR)}
    names = ("id", "owner_id", "organization_id")
    if any(getattr(fields.get(n), "source", "") != f"{table}.{n}" for n in names):
        return None
    rtype = f"ResourceType.{policy.type.upper()}"
    return f"Object({rtype}, row.id, row.owner_id, row.organization_id)"


def _pre_check(policy: Policy, aw: str, how: str) -> str:
    """One check made before the query runs, as an `authorize(...)` or `allowed(...)` call."""
    action = f"Action.{policy.action.upper()}"
    rtype = f"ResourceType.{policy.type.upper()}"
    t = policy.term
    if t == "system":  # only ever the last alternative
        return f"self._authz.authorize_system(subject, {action}, {rtype})"
    if t == "deployment_config":
        obj = "Object(ResourceType.DEPLOYMENT_CONFIG)"
    elif t == "personal":
        action = "Action.READ_PERSONAL" if policy.action == "read" else "Action.UPDATE_PERSONAL"
        obj = f"Object({rtype}, {policy.param}, {policy.param})"
    elif t == "build":
        obj = f"{aw}self._built({rtype}, {policy.owner}, {policy.org or 'None'})"
    else:  # load
        obj = f"{aw}self._load({rtype}, {policy.param})"
    return f"self._authz.{how}(subject, {action}, {obj})"


def _pre_check_lines(policy: Policy, aw: str, nullable: set[str]) -> list[str]:
    """The statements of one pre-check (a single check, an `or`, or one per array element).

    A NULL id names nothing, so a nullable parameter is checked only when it is given.
    """
    if policy.term == "is_actor":
        return [f'        self._require_actor(subject, {policy.param}, "{policy.param}")']
    if policy.term == "is_actor_many":
        return [
            f"        for user_id in {policy.param}:",
            f'            self._require_actor(subject, user_id, "{policy.param}")',
        ]
    if policy.term == "load" and policy.param in nullable and policy.alternative is None:
        return [
            f"        if {policy.param} is not None:",
            f"            {_pre_check(policy, aw, 'authorize')}",
        ]
    if policy.term == "load_many":
        action = f"Action.{policy.action.upper()}"
        rtype = f"ResourceType.{policy.type.upper()}"
        return [
            f"        for object_id in {policy.param}:",
            "            if object_id is not None:",
            f"                self._authz.authorize(subject, {action}, {aw}self._load({rtype}, object_id))",
        ]
    if policy.alternative is None:
        return [f"        {_pre_check(policy, aw, 'authorize')}"]
    return [
        f"        if not {_pre_check(policy, aw, 'allowed')}:",
        f"            {_pre_check(policy.alternative, aw, 'authorize')}",
    ]


def filter_org_nullable(settings: AuthzSettings, type: str, catalog: Catalog | None) -> bool:
    """Whether the organization column of ``type``'s SQL filter may be NULL where its owner
    column is not (True unless the catalog proves otherwise).

    Proven when both filter columns are the type's table's own (unqualified, or qualified by
    the table's name) and the organization column is NOT NULL there: a row whose owner
    matches then has an organization, so the filter's ``IS NULL`` arm (the actor's own
    organization-less objects) is left out; the server would plan it on every call. A wrong
    answer could only hide rows from their owner, never show any: the arm only adds rows.
    """
    owner, org = settings.filter_columns.get(type, ("", ""))
    table = settings.type_tables.get(type)
    if catalog is None or table is None or not org:
        return True
    owner_table, _, _ = owner.rpartition(".")
    org_table, _, org_name = org.rpartition(".")
    if owner_table != org_table or org_table not in ("", table):
        return True
    found = catalog.table(table)
    column = found.column(org_name) if found is not None and found.kind == "r" else None
    return column is None or not column.not_null


def wrapper_method(
    query: QueryIR,
    policy: Policy,
    is_async: bool,
    settings: AuthzSettings,
    secrets: tuple[tuple[str, str, str], ...] = (),
    org_nullable: bool = True,
) -> str:
    """One wrapper method; ``secrets`` (see :func:`codegen.secrets.secret_paths`) are redacted
    from the result unless the actor may read them. ``org_nullable``: see
    :func:`filter_org_nullable` (sql_filter only)."""
    from codegen.render import signature

    aw = "await " if is_async else ""
    action = f"Action.{policy.action.upper()}" if policy.action else ""
    rtype = f"ResourceType.{policy.type.upper()}" if policy.type else ""
    if query.uses_params_class:
        call_args = "params"
    else:
        call_args = ", ".join(f"{p.name}={p.name}" for p in query.params)
    call = f"{aw}self._q.{query.method}({call_args})"

    def redacted(expr: str) -> str:
        return f"self._redact(subject, {secrets!r}, {expr})" if secrets else expr

    call = redacted(call)
    lines = [f"    {signature(query, is_async)}:"]
    lines.append(f'        """{query.name}: {policy.text}"""')
    t = policy.term
    bare = t == "any_actor" and not secrets
    lines.append("        self._actor()" if bare else "        subject = self._actor()")
    if t == "any_actor":
        lines.append(f"        return {call}")
    elif t in _AND_TERMS:
        nullable = {p.name for p in query.params if p.nullable}
        for check in (policy, *policy.also):
            lines.extend(_pre_check_lines(check, aw, nullable))
        created = _created_object(query, policy, settings)
        if created is None:
            lines.append(f"        return {call}")
        else:  # the new chat (or file) is remembered, as a fetched one is: see _load
            lines.append(f"        row = {call}")
            lines.append(f"        self._seen({created})")
            lines.append("        return row")
    elif t == "fetch":
        assert query.row is not None
        if query.kind == ":one":
            obj = _object_of_row(query, policy, "row", settings, aw)
            if obj.startswith("Object("):  # a fetched chat (or file) is remembered: see _load
                obj = f"self._seen({obj})"
            lines.append(f"        row = {call}")
            lines.append(f"        self._authz.authorize(subject, {action}, {obj})")
            lines.append("        return row")
        else:
            lines.append(f"        rows = {call}")
            lines.append("        for row in rows:")
            lines.append(
                f"            self._authz.authorize(subject, {action}, {_object_of_row(query, policy, 'row', settings, aw)})"
            )
            lines.append("        return rows")
    elif t == "post_filter":
        assert query.row is not None
        obj = _object_of_row(query, policy, "row", settings, aw)
        if query.kind == ":one":
            lines.append(f"        row = {call}")
            lines.append(f"        self._authz.authorize(subject, {action}, {obj})")
            lines.append("        return row")
        else:
            lines.append(f"        rows = {call}")
            lines.append(
                f"        return [row for row in rows if self._authz.allowed(subject, {action}, {obj})]"
            )
    elif t == "sql_filter":
        owner, org = settings.filter_columns.get(policy.type, ("", ""))
        if not owner:
            raise CodegenError(
                f"no filter columns configured for type {policy.type!r}", query.location
            )
        lines.append(
            f"        flt = self._authz.sql_filter(subject, {action}, {rtype}, "
            f'owner_column="{owner}", org_column="{org}", first_param={len(query.params) + 1}, '
            f"org_nullable={org_nullable})"
        )
        filtered_args = ", ".join(
            ["flt.sql", "flt.params", *(f"{p.name}={p.name}" for p in query.params)]
        )
        lines.append(
            f"        return {redacted(f'{aw}self._q._{query.method}_filtered({filtered_args})')}"
        )
    else:  # pragma: no cover - parse_policy rejects anything else
        raise CodegenError(f"unsupported policy {policy.text!r}", query.location)
    return "\n".join(lines)


def render_wrapper(
    queries: list[QueryIR],
    policies: dict[str, Policy],
    package: str,
    settings: AuthzSettings,
    secrets: tuple[SecretSpec, ...] = (),
    catalog: Catalog | None = None,
) -> str:
    """The wrapper module's source; ``catalog`` tells which filter columns are NOT NULL."""
    from codegen.secrets import secret_paths

    paths = {q.name: secret_paths(q, secrets) for q in queries}
    for q in queries:
        if paths[q.name] and policies[q.name].term == "custom":
            raise CodegenError(
                "a custom policy cannot return secret columns (the generated wrapper redacts "
                "them); return the secret's metadata only or use a generated policy",
                q.location,
            )
    from codegen.render import HEADER, _import_lines, _imports_of_types, make_env

    found: set[tuple[str, str]] = {
        (settings.runtime, "Action"),
        (settings.runtime, "Object"),
        (settings.runtime, "ResourceType"),
        (package, "AsyncQueries"),
        (package, "Queries"),
    }
    for spec in (settings.custom_sync, settings.custom_async):
        module, _, name = spec.partition(":")
        found.add((module, name))
    for q in queries:
        if policies[q.name].term == "custom":
            continue
        for module, name in _imports_of_types(p.pytype for p in q.params):
            found.add((package if module == ".models" else module, name))
        if any(p.pytype.array is not None for p in q.params) and not q.uses_params_class:
            found.add(("collections.abc", "Sequence"))
        if q.uses_params_class:
            found |= {("collections.abc", "Iterable"), (package, q.params_class)}
        if q.row is not None and returns_rows(q):
            found.add((package, q.row.class_name))
        if q.kind == ":execresult":
            found.add((package, "ExecResult"))
    env = make_env()
    env.filters["wrapper"] = lambda q, policy, is_async: wrapper_method(
        q,
        policy,
        is_async,
        settings,
        paths[q.name],
        filter_org_nullable(settings, policy.type, catalog),
    )
    text = env.get_template("authz_wrapper.py.j2").render(
        header=HEADER.format(source="the -- authz: lines of the query files"),
        imports=_import_lines(found, first_party=package),
        items=[(q, policies[q.name]) for q in queries],
        custom_sync=settings.custom_sync,
        custom_async=settings.custom_async,
        custom_sync_class=settings.custom_sync.partition(":")[2],
        custom_async_class=settings.custom_async.partition(":")[2],
    )
    return text.rstrip("\n") + "\n"


# ---- the reference rule ------------------------------------------------------------------


def _checks(
    policy: Policy, ref: Reference, param: str, rtype: str, settings: AuthzSettings
) -> bool:
    """Whether one term (with its `or` alternative) checks ``param``'s reference to ``rtype``."""
    t = policy.term
    if t == "custom":
        found = True
    elif t in ("load", "load_many", "personal"):
        found = policy.param == param and policy.type == rtype
    elif t in ("is_actor", "is_actor_many"):
        found = policy.param == param and rtype == "user"
    elif t == "build":
        found = (policy.owner == param and rtype == "user") or (
            policy.org == param and rtype == "organization"
        )
    elif t == "deployment_config":
        found = rtype == "deployment_config"
    elif t == "system":
        found = rtype == policy.type
    elif t in ("fetch", "post_filter", "sql_filter"):
        found = (
            not ref.assigned and ref.top_level and settings.type_of_table(ref.table) == policy.type
        )
    else:  # any_actor
        found = False
    if policy.alternative is not None:
        found = found and _checks(policy.alternative, ref, param, rtype, settings)
    return found


def check_references(query: QueryIR, policy: Policy, settings: AuthzSettings) -> None:
    """Refuse a policy that leaves a parameter naming an authorized object unchecked."""
    names = {p.number: p.name for p in query.params}
    waived = dict(policy.waivers)
    needed: set[str] = set()
    terms = (policy, *policy.also)
    for ref in query.references:
        rtype = settings.type_of_table(ref.target)
        param = names.get(ref.param)
        if rtype is None or param is None:
            continue
        if any(_checks(term, ref, param, rtype, settings) for term in terms):
            continue
        needed.add(param)
        if param in waived:
            continue
        how = "writes it into" if ref.assigned else "compares it with"
        raise CodegenError(
            f"parameter {param} names a {rtype} (the query {how} "
            f"{ref.table}.{ref.column}, a reference to {ref.target}) but its policy "
            f"{policy.text!r} does not check it: add a check such as "
            f"'and read {rtype}({param})', or waive it with a reason: "
            f"'and waive({param}: \"<why no check is needed>\")'",
            query.location,
        )
    for param in waived:
        if param not in needed:
            raise CodegenError(
                f"waive({param}: ...) is not needed: the policy checks "
                f"{param}, or it names no authorized object",
                query.location,
            )
