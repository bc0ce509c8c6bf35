"""Sorting names the way readers expect: the Unicode Collation Algorithm, not code-point order.

pyuca implements the algorithm with the default table (DUCET), the neutral order for a list of
names from many languages: "Émile" sits with the Es, "Łukasz" with the Ls, lower and upper case
side by side. It is pure Python, so `make run` still needs nothing but Python (PyICU would need
ICU's headers and a C++ compiler on every machine).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

import pyuca

T = TypeVar("T")


@lru_cache(maxsize=1)
def _collator() -> pyuca.Collator:
    return pyuca.Collator()  # reads the table once (about 0.3 s)


def sort_key(text: str | None) -> tuple[int, ...]:
    """The collation key of a name (or any text); compare keys instead of strings."""
    return _collator().sort_key(text or "")


def sorted_by_name(items: Iterable[T], name: Callable[[T], str] = str) -> list[T]:
    """`items` in collation order of `name(item)`; equal names keep their order."""
    return sorted(items, key=lambda item: sort_key(name(item)))
