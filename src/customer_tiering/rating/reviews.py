"""Reviewers' decisions: overrides, accepted and rejected grade changes, as an append-only trail.

Every decision is a new row in ``reviews`` (who, when, the rating it refers to, old grade, new
grade, reason, optional expiry); nothing is updated or deleted. The **effective grade** of a
customer is the grade of its latest rating, unless its latest review is an override (or a rejected
change, which puts the previous grade back) that has not expired: a review stands until it
expires or the next review replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.store.tables import grades, reviews
from customer_tiering.store.tier_store import TierStore, now_utc

__all__ = ["EXPIRING_DAYS", "QUEUE_KINDS", "Effective", "QueuePage", "audit_log", "decide",
           "effective_grade", "review_queue", "work_queue"]

Action = Literal["override", "accept", "reject"]


@dataclass(frozen=True)
class Effective:
    """A customer's grade as sales ops should apply it."""

    customer_id: str
    grade: str
    rated_grade: str
    rating_id: int
    source: Literal["rating", "override"]
    review_id: int | None
    expires_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    """A requested expiry without a zone is taken as UTC (the store's own times are aware)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=now_utc().tzinfo)


_LATEST_REVIEW = (sa.select(reviews).where(reviews.c.customer_id == sa.bindparam("customer_id"))
                  .order_by(reviews.c.id.desc()).limit(1))  # built once: read with every grade


def _latest_review(store: TierStore, customer_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(_LATEST_REVIEW, {"customer_id": customer_id}).first()
    return None if row is None else dict(row._mapping)


def effective_grade(store: TierStore, customer_id: str, *, at: datetime | None = None,
                    rated: dict[str, Any] | None = None) -> Effective:
    """The grade in force for ``customer_id`` at ``at`` (default: now).

    Parameters
    ----------
    store : TierStore
        The tier store.
    customer_id : str
        The customer.
    at : datetime.datetime, optional
        When (default: now).
    rated : dict, optional
        The customer's latest grade row, when the caller already has it.

    Returns
    -------
    Effective
        A reviewer's override or rejection while it has not expired, else the latest rating's
        grade.

    Raises
    ------
    UnknownRatingError
        When the customer has no grade.
    """
    rated = rated if rated is not None else store.customer_grade(customer_id)
    when = at or now_utc()
    review = _latest_review(store, customer_id)
    if review is not None and review["action"] in ("override", "reject"):
        expires = review["expires_at"]
        if expires is None or expires > when:
            return Effective(customer_id, review["new_grade"], rated["grade"],
                             rated["rating_id"], "override", review["id"], expires)
    return Effective(customer_id, rated["grade"], rated["grade"], rated["rating_id"], "rating",
                     None, None)


def decide(store: TierStore, customer_id: str, action: Action, *, reviewer: str, reason: str,
           new_grade: str | None = None, expires_at: datetime | None = None) -> dict[str, Any]:
    """Record a reviewer's decision on a customer's current grade.

    ``override`` sets ``new_grade`` (one of the rating's grades); ``accept`` keeps the grade the
    latest rating gave; ``reject`` puts back the grade before it (``previous_grade``).

    Parameters
    ----------
    store : TierStore
        The tier store.
    customer_id : str
        The customer.
    action : str
        ``override``, ``accept`` or ``reject``.
    reviewer, reason : str
        Who decided, and why.
    new_grade : str, optional
        The grade an override sets.
    expires_at : datetime.datetime, optional
        When an override or rejection stops applying (a time without a zone is UTC).

    Returns
    -------
    dict
        The review row.

    Raises
    ------
    TieringError
        For an empty reason, an unknown grade, an expiry in the past, or accepting/rejecting a
        customer whose latest rating did not change the grade.
    """
    if not reason.strip():
        raise TieringError("reason: a review needs a reason", key="error_reason_required")
    rated = store.customer_grade(customer_id)
    record = store.rating(rated["rating_id"])
    current = effective_grade(store, customer_id)
    now = now_utc()
    expires_at = _aware(expires_at)
    if expires_at is not None and expires_at <= now:
        raise TieringError(f"expires_at: {expires_at.isoformat()} is not in the future",
                           key="error_expiry_past", params={"expires": expires_at.date()})
    if action == "override":
        if new_grade not in record.grade_labels:
            raise TieringError(f"new_grade: {new_grade!r} is not a grade of scheme "
                               f"{record.scheme} ({', '.join(record.grade_labels)})",
                               key="error_unknown_grade",
                               params={"grade": new_grade, "scheme": record.scheme})
        target = new_grade
    elif action in ("accept", "reject"):
        if rated["previous_grade"] is None or rated["previous_grade"] == rated["grade"]:
            raise TieringError(f"customer {customer_id!r}: rating {record.id} did not change the "
                               "grade; nothing to accept or reject", key="error_nothing_to_review",
                               params={"customer": customer_id, "rating": record.id})
        target = rated["grade"] if action == "accept" else rated["previous_grade"]
        if action == "accept":
            expires_at = None
    else:
        raise TieringError(f"action {action!r}: use override, accept or reject",
                           key="error_unknown_action")
    values = {"customer_id": customer_id, "rating_id": record.id, "action": action,
              "old_grade": current.grade, "new_grade": target, "reason": reason.strip(),
              "reviewer": reviewer, "created_at": now, "expires_at": expires_at}
    with store.engine.begin() as conn:
        review_id = conn.execute(reviews.insert().values(**values).returning(reviews.c.id)
                                 ).scalar_one()
    return {"id": review_id, **values}


def audit_log(store: TierStore, *, customer_id: str | None = None, limit: int = 200,
              offset: int = 0) -> pd.DataFrame:
    """Review decisions, newest first (optionally of one customer).

    Parameters
    ----------
    store : TierStore
        The tier store.
    customer_id : str, optional
        Only this customer's decisions.
    limit, offset : int
        The page.

    Returns
    -------
    pandas.DataFrame
        The review rows.
    """
    query = sa.select(reviews).order_by(reviews.c.id.desc()).limit(limit).offset(offset)
    if customer_id is not None:
        query = query.where(reviews.c.customer_id == customer_id)
    with store.engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    return pd.DataFrame(rows, columns=[c.name for c in reviews.columns])


def review_queue(store: TierStore, rating_id: int, *, limit: int = 100, offset: int = 0
                 ) -> pd.DataFrame:
    """Customers of a rating whose grade changed or is provisional and who have no review since.

    Largest score moves first would need the previous total; the queue orders by total, highest
    first, so the customers that matter most are reviewed first.

    Parameters
    ----------
    store : TierStore
        The tier store.
    rating_id : int
        The rating.
    limit, offset : int
        The page.

    Returns
    -------
    pandas.DataFrame
        Id, name, region, type, total, grade, previous grade, provisional flag and reasons.

    Raises
    ------
    UnknownRatingError
        When the rating does not exist.
    """
    store.rating(rating_id)
    reviewed = sa.select(reviews.c.customer_id).where(reviews.c.rating_id == rating_id)
    query = (sa.select(grades.c.customer_id, grades.c.customer_name, grades.c.region,
                       grades.c.customer_type, grades.c.total, grades.c.grade,
                       grades.c.previous_grade, grades.c.provisional, grades.c.reason_zh,
                       grades.c.reason_en)
             .where(grades.c.rating_id == rating_id,
                    sa.or_(grades.c.provisional.is_(True),
                           sa.and_(grades.c.previous_grade.is_not(None),
                                   grades.c.previous_grade != grades.c.grade)),
                    grades.c.customer_id.not_in(reviewed))
             .order_by(grades.c.total.desc(), grades.c.customer_id).limit(limit).offset(offset))
    with store.engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    return pd.DataFrame(rows, columns=["customer_id", "customer_name", "region", "customer_type",
                                       "total", "grade", "previous_grade", "provisional",
                                       "reason_zh", "reason_en"])



EXPIRING_DAYS = 30
"""An override or rejection ending within this many days is queued for a fresh look."""

QUEUE_KINDS = ("vip_change", "change", "expiring", "provisional")
"""The work queue's groups, in the order it lists them."""

_QUEUE_COLUMNS = ("customer_id", "customer_name", "total", "grade", "previous_grade",
                  "provisional", "reason_zh", "reason_en")


@dataclass(frozen=True)
class QueuePage:
    """One page of the work queue, and how many items it holds in all and per kind."""

    total_count: int
    counts: dict[str, int]
    rows: list[dict[str, Any]]


def _rank(column: sa.ColumnElement[Any], order: Sequence[str]) -> sa.ColumnElement[int]:
    """A grade's position in ``order`` (0: the highest; unknown grades last)."""
    if not order:
        return sa.literal(0)
    return sa.case({g: i for i, g in enumerate(order)}, value=column, else_=len(order))


def _expiring(store: TierStore, rating_id: int, now: datetime, days: int
              ) -> dict[str, dict[str, Any]]:
    """Customers of the rating whose override or rejection in force ends within ``days``."""
    soon = now + timedelta(days=days)
    ending = (sa.select(reviews.c.customer_id)
              .where(reviews.c.action.in_(("override", "reject")),
                     reviews.c.expires_at > now, reviews.c.expires_at <= soon))
    latest = (sa.select(reviews.c.customer_id, sa.func.max(reviews.c.id).label("id"))
              .where(reviews.c.customer_id.in_(ending)).group_by(reviews.c.customer_id)
              .subquery())
    query = (sa.select(reviews).join(latest, latest.c.id == reviews.c.id)
             .where(reviews.c.action.in_(("override", "reject")),
                    reviews.c.expires_at > now, reviews.c.expires_at <= soon))
    with store.engine.connect() as conn:
        found = {r.customer_id: dict(r._mapping) for r in conn.execute(query)}
        if not found:
            return {}
        present = {r[0] for r in conn.execute(
            sa.select(grades.c.customer_id).where(grades.c.rating_id == rating_id,
                                                  grades.c.customer_id.in_(list(found))))}
    return {c: v for c, v in found.items() if c in present}


def work_queue(store: TierStore, rating_id: int, order: Sequence[str], *, limit: int = 50,
               offset: int = 0, now: datetime | None = None,
               expiring_days: int = EXPIRING_DAYS) -> QueuePage:
    """The reviewers' work: what to look at in a rating, most important first, one page of it.

    Groups, in this order (:data:`QUEUE_KINDS`):

    1. ``vip_change``: grade changes into or out of the highest grade, not reviewed for this
       rating; the largest moves (in grades) first, then the highest total;
    2. ``change``: the other grade changes, likewise;
    3. ``expiring``: customers whose override or rejection in force ends within
       ``expiring_days``, the soonest first;
    4. ``provisional``: provisional grades that did not change, not reviewed for this rating,
       highest total first.

    Only the changes are *actionable* (can be accepted or rejected); the others are there to be
    looked at (and overridden if need be).

    Parameters
    ----------
    store : TierStore
        The tier store.
    rating_id : int
        The rating.
    order : sequence of str
        The scheme's grades, highest first.
    limit, offset : int
        The page.
    now : datetime.datetime, optional
        The time the expiries are measured from (default: now).
    expiring_days : int
        How far ahead an ending override is queued.

    Returns
    -------
    QueuePage
        Rows with the grade row's ``_QUEUE_COLUMNS`` and ``kind``, ``actionable``, ``steps``
        (grades moved, up positive), ``expires_at`` and ``override_grade`` (for ``expiring``).

    Raises
    ------
    UnknownRatingError
        When the rating does not exist.
    """
    store.rating(rating_id)
    when = now or now_utc()
    top = order[0] if order else None
    rank_now, rank_before = _rank(grades.c.grade, order), _rank(grades.c.previous_grade, order)
    reviewed = sa.select(reviews.c.customer_id).where(reviews.c.rating_id == rating_id)
    base = [grades.c.rating_id == rating_id, grades.c.customer_id.not_in(reviewed)]
    changed = sa.and_(grades.c.previous_grade.is_not(None),
                      grades.c.previous_grade != grades.c.grade)
    vip = sa.or_(grades.c.grade == top, grades.c.previous_grade == top)
    columns = [grades.c[c] for c in _QUEUE_COLUMNS]
    steps = (rank_before - rank_now).label("steps")
    expiring = _expiring(store, rating_id, when, expiring_days)
    with store.engine.connect() as conn:
        in_changes = {r[0] for r in conn.execute(
            sa.select(grades.c.customer_id).where(*base, changed,
                                                  grades.c.customer_id.in_(list(expiring))))
                      } if expiring else set()
    expiring = {c: v for c, v in expiring.items() if c not in in_changes}
    not_expiring = grades.c.customer_id.not_in(list(expiring))
    unchanged = sa.or_(grades.c.previous_grade.is_(None),
                       grades.c.previous_grade == grades.c.grade)
    where = {"vip_change": [*base, changed, vip], "change": [*base, changed, sa.not_(vip)],
             "provisional": [*base, unchanged, grades.c.provisional.is_(True), not_expiring]}
    ordering = {"vip_change": (sa.func.abs(rank_before - rank_now).desc(),
                               grades.c.total.desc(), grades.c.customer_id),
                "change": (sa.func.abs(rank_before - rank_now).desc(),
                           grades.c.total.desc(), grades.c.customer_id),
                "provisional": (grades.c.total.desc(), grades.c.customer_id)}
    expiring_ids = sorted(expiring, key=lambda c: (expiring[c]["expires_at"], c))
    with store.engine.connect() as conn:
        counts = {k: conn.execute(sa.select(sa.func.count()).select_from(grades).where(*w)
                                  ).scalar_one() for k, w in where.items()}
        counts["expiring"] = len(expiring_ids)

        def fetch(kind: str, skip: int, take: int) -> list[dict[str, Any]]:
            if kind == "expiring":
                wanted = expiring_ids[skip:skip + take]
                found = {r.customer_id: dict(r._mapping) for r in conn.execute(
                    sa.select(*columns, steps).where(grades.c.rating_id == rating_id,
                                                     grades.c.customer_id.in_(wanted)))}
                return [{**found[c], "expires_at": expiring[c]["expires_at"],
                         "override_grade": expiring[c]["new_grade"]} for c in wanted]
            query = (sa.select(*columns, steps).where(*where[kind]).order_by(*ordering[kind])
                     .limit(take).offset(skip))
            return [dict(r._mapping) for r in conn.execute(query)]

        rows = _page_through([(k, counts[k]) for k in QUEUE_KINDS], fetch, offset, limit)
    for row in rows:
        row.setdefault("expires_at", None)
        row.setdefault("override_grade", None)
        row["actionable"] = row["kind"] in ("vip_change", "change")
        row["steps"] = int(row["steps"]) if row["kind"] != "expiring" else 0
        row["provisional"] = bool(row["provisional"])
    return QueuePage(sum(counts.values()), {k: counts[k] for k in QUEUE_KINDS}, rows)


def _page_through(groups: list[tuple[str, int]],
                  fetch: Callable[[str, int, int], list[dict[str, Any]]], offset: int,
                  limit: int) -> list[dict[str, Any]]:
    """Rows ``offset .. offset + limit`` of the groups one after another."""
    rows: list[dict[str, Any]] = []
    start = 0
    for kind, count in groups:
        end = start + count
        if offset < end and len(rows) < limit:
            skip = max(offset - start, 0)
            take = min(limit - len(rows), count - skip)
            rows.extend({**r, "kind": kind} for r in fetch(kind, skip, take))
        start = end
    return rows
