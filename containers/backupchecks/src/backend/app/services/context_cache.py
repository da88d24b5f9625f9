"""Values read often and changed rarely, cached for the current app context.

A web request has its own app context, so a request reads each value once; a background pass runs
in one app context, so the import reads them once per pass instead of once per mail. The services
that change a value drop its entry, and every request starts empty (web.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import g, has_app_context

T = TypeVar("T")
PREFIX = "context_cache_"


def cached(name: str, load: Callable[[], T]) -> T:
    if not has_app_context():
        return load()
    key = PREFIX + name
    if key not in g:
        setattr(g, key, load())
    return getattr(g, key)


def forget(*names: str) -> None:
    if has_app_context():
        for name in names:
            g.pop(PREFIX + name, None)


def forget_all() -> None:
    if has_app_context():
        for key in [k for k in g if k.startswith(PREFIX)]:
            g.pop(key, None)
