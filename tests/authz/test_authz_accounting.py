"""Bookkeeping that keeps "every querier method is wrapped and tested" true as queries are added.

A new query without a policy fails code generation; a new query without an entry in the case
table (``method_cases.CASES``) fails here, because without one it would get no not-authorized,
no-actor or recorded-checks test.
"""

from __future__ import annotations

import inspect

from chatdb.authz.base import AsyncAuthzBase, AuthzBase
from chatdb.authz.custom import AsyncCustomAuthz, CustomAuthz
from chatdb.authz.wrapper import CUSTOM_METHODS, POLICIES, AsyncAuthzQuerier, AuthzQuerier
from chatdb.db import QUERIES, AsyncQuerier, AsyncQueries, Querier, Queries
from tests.authz.method_cases import CASES, alternatives


def protocol_methods(protocol: type) -> set[str]:
    return {n for n, v in vars(protocol).items() if not n.startswith("_") and callable(v)}


QUERY_METHODS = protocol_methods(Queries)


def test_every_querier_method_has_a_case_for_the_wrapper_tests() -> None:
    missing = sorted(QUERY_METHODS - set(CASES))
    stale = sorted(set(CASES) - QUERY_METHODS)
    assert not missing, f"add these methods to tests/authz/method_cases.py: {missing}"
    assert not stale, f"these cases name no querier method: {stale}"


def test_the_sync_and_async_protocols_list_the_same_methods() -> None:
    assert protocol_methods(AsyncQueries) == QUERY_METHODS
    assert {q.method for q in QUERIES.values()} == QUERY_METHODS


def test_every_method_has_a_policy_and_it_is_the_one_on_its_authz_line() -> None:
    assert set(POLICIES) == QUERY_METHODS
    for info in QUERIES.values():
        assert info.authz is not None, f"{info.name} ({info.source}:{info.line}) has no policy"
        assert POLICIES[info.method] == info.authz


def test_every_policy_is_a_term_of_the_policy_language() -> None:
    for method in QUERY_METHODS:
        alternatives(method)  # raises on anything SPEC section 8 does not define


def test_custom_methods_are_exactly_the_custom_policies_and_are_hand_written() -> None:
    custom = {m for m, p in POLICIES.items() if p == "custom" or p.startswith("custom ")}
    assert set(CUSTOM_METHODS) == custom
    for method in custom:
        assert method in vars(CustomAuthz), f"CustomAuthz lacks {method}"
        assert method in vars(AsyncCustomAuthz), f"AsyncCustomAuthz lacks {method}"
        assert method not in vars(AuthzQuerier), f"the generated wrapper overrides {method}"
        assert method not in vars(AsyncAuthzQuerier), f"the generated wrapper overrides {method}"


def test_every_other_method_is_generated_on_both_wrappers() -> None:
    for method in QUERY_METHODS - set(CUSTOM_METHODS):
        assert method in vars(AuthzQuerier), f"AuthzQuerier does not wrap {method}"
        assert method in vars(AsyncAuthzQuerier), f"AsyncAuthzQuerier does not wrap {method}"


def test_wrapper_methods_take_exactly_the_querier_parameters() -> None:
    for method in QUERY_METHODS:
        plain = inspect.signature(getattr(Querier, method))
        assert inspect.signature(getattr(AuthzQuerier, method)) == plain, method
        aplain = inspect.signature(getattr(AsyncQuerier, method))
        assert inspect.signature(getattr(AsyncAuthzQuerier, method)) == aplain, method
        assert inspect.iscoroutinefunction(getattr(AsyncAuthzQuerier, method)), method


def test_the_wrapper_exposes_only_checked_methods() -> None:
    """Callers only see methods that check first; the plain querier stays private."""
    extras = {"authorizer", "with_actor"}
    for wrapper, base in ((AuthzQuerier, AuthzBase), (AsyncAuthzQuerier, AsyncAuthzBase)):
        public = {n for n in dir(wrapper) if not n.startswith("_")}
        assert public == QUERY_METHODS | extras, sorted(public ^ (QUERY_METHODS | extras))
        assert issubclass(wrapper, base)
        assert not issubclass(wrapper, (Querier, AsyncQuerier))
