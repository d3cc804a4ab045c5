"""The statements behind the tier store's grade reads: a customer's grade, a rating's grade list.

:class:`~customer_tiering.store.tier_store.TierStore` builds them here and runs them.

The API's ``GET /v1/grades`` and the web grade list filter, sort and page the same rows through
the same store methods, so both faces list exactly the same customers for the same filters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.store.tables import grades, ratings

__all__ = ["FILTER_OPTION_COLUMNS", "GRADE_SORTS", "LIST_COLUMNS", "GradeFilters", "GradeListing",
           "customer_grade_statement", "customer_ids_statement", "filter_options_statement",
           "grade_list_statements",
           "revenues_statement"]

#: The orders a grade list can take: a column, ``-`` first for highest first.
GRADE_SORTS: tuple[str, ...] = ("-total", "total", "customer_id", "churn_probability",
                                "-churn_probability", "expected_value", "-expected_value")
#: What a row of a grade list holds (not the points and explanation documents, about 2 KB each).
LIST_COLUMNS: tuple[str, ...] = ("customer_id", "customer_name", "region", "customer_type",
                                 "segment", "total", "grade", "previous_grade", "provisional",
                                 "churn_probability", "expected_value")
#: The columns whose values a grade list offers to filter on.
FILTER_OPTION_COLUMNS: tuple[str, ...] = ("region", "customer_type", "segment")
_MAX_OPTIONS = 200  # values offered per filter: a longer list is no use in a drop-down


@dataclass(frozen=True)
class GradeFilters:
    """Which grade rows of a rating a list shows; ``None`` (or an empty text) sets no condition.

    Attributes
    ----------
    grade, region, customer_type, segment
        Equal to this value.
    changed
        True: the previous grade is known and differs from the grade; False: the grade is new
        or the same as before.
    search
        Text found anywhere in the customer id or the customer name.
    provisional
        True: only provisional grades (an input missing under a ``provisional`` policy); False:
        only final ones.
    """

    grade: str | None = None
    region: str | None = None
    customer_type: str | None = None
    segment: str | None = None
    changed: bool | None = None
    search: str | None = None
    provisional: bool | None = None


@dataclass(frozen=True)
class GradeListing:
    """One page of a grade list: the rows (``LIST_COLUMNS``) and how many rows match in all."""

    total_count: int
    rows: list[dict[str, Any]]


@functools.cache
def customer_grade_statement(in_rating: bool, documents: bool) -> sa.Select[Any]:
    """The statement of :meth:`TierStore.customer_grade`, built once: building it per call
    costs about as much as running it (a grade read is the API's most frequent request).

    Parameters: ``customer_id``, and ``rating_id`` when ``in_rating``; ``documents`` adds the
    ``points`` and ``explanation`` columns.
    """
    columns = [c for c in grades.columns if documents or c.name not in ("points", "explanation")]
    query = (sa.select(*columns, ratings.c.as_of, ratings.c.kind)
             .join(ratings, ratings.c.id == grades.c.rating_id)
             .where(grades.c.customer_id == sa.bindparam("customer_id")))
    if in_rating:
        query = query.where(grades.c.rating_id == sa.bindparam("rating_id"))
    return query.order_by(ratings.c.as_of.desc(), ratings.c.id.desc()).limit(1)


def _conditions(rating_id: int, filters: GradeFilters) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [grades.c.rating_id == rating_id]
    for column, value in (("grade", filters.grade), ("region", filters.region),
                          ("customer_type", filters.customer_type),
                          ("segment", filters.segment)):
        if value:
            where.append(grades.c[column] == value)
    if filters.search:
        where.append(sa.or_(grades.c.customer_id.contains(filters.search),
                            grades.c.customer_name.contains(filters.search)))
    if filters.changed is True:
        where.append(sa.and_(grades.c.previous_grade.is_not(None),
                             grades.c.previous_grade != grades.c.grade))
    elif filters.changed is False:
        where.append(sa.or_(grades.c.previous_grade.is_(None),
                            grades.c.previous_grade == grades.c.grade))
    if filters.provisional is not None:
        where.append(grades.c.provisional.is_(filters.provisional))
    return where


def grade_list_statements(rating_id: int, filters: GradeFilters, sort: str, page: int,
                          page_size: int) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The count of matching rows and the rows of page ``page`` (from 1), in that order.

    Rows with equal sort values are ordered by customer id, so pages never overlap.

    Raises
    ------
    TieringError
        When ``sort`` is not one of :data:`GRADE_SORTS`.
    """
    if sort not in GRADE_SORTS:
        raise TieringError(f"sort {sort!r} is not one of {', '.join(GRADE_SORTS)}")
    where = _conditions(rating_id, filters)
    column = grades.c[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    count = sa.select(sa.func.count()).select_from(grades).where(*where)
    rows = (sa.select(*[grades.c[c] for c in LIST_COLUMNS]).where(*where)
            .order_by(order, grades.c.customer_id)
            .limit(page_size).offset((max(page, 1) - 1) * page_size))
    return count, rows


def customer_ids_statement(rating_id: int, filters: GradeFilters) -> sa.Select[Any]:
    """The ids of every customer that passes ``filters`` (what an export of the list keeps)."""
    return sa.select(grades.c.customer_id).where(*_conditions(rating_id, filters))


def filter_options_statement(rating_id: int, column: str) -> sa.Select[Any]:
    """The distinct values of ``column`` in a rating, sorted, at most 200, without NULL."""
    return (sa.select(grades.c[column])
            .where(grades.c.rating_id == rating_id, grades.c[column].is_not(None))
            .distinct().order_by(grades.c[column]).limit(_MAX_OPTIONS))


def revenues_statement(rating_id: int) -> sa.Select[Any]:
    """Every customer's revenue of the last 365 days in a rating, highest first; unknown as 0
    (so the order is the same on every database, which place NULL differently)."""
    revenue = sa.func.coalesce(grades.c.revenue_365d, 0.0)
    return sa.select(revenue).where(grades.c.rating_id == rating_id).order_by(revenue.desc())
