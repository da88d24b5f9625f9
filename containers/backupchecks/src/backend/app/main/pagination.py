"""Pagination of a SELECT, shared by the list pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import func, select

from ..extensions import db


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def paginate(query, per_page: int = 50, scalars: bool = True) -> Page:
    page = page_number()
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars() if scalars else result.all())
    return Page(items=items, page=page, per_page=per_page, total=total)
