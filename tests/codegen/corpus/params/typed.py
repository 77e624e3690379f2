"""Calls mypy --strict must accept (and reject, see check.py) on the generated signatures."""

from __future__ import annotations

from corpus_params import Profile, Querier


def create_without_bio(q: Querier) -> Profile:
    return q.create_profile(id=1, name="Ann", bio=None, website=None)


def clear_bio(q: Querier) -> int:
    return q.update_bio(bio=None, id=1)


def positional(q: Querier) -> None:
    q.create_profile_positional(id=2, name="Bob", bio=None)
