"""Reviewers' decisions: overrides, accepted and rejected grade changes, as an append-only trail.

Every decision is a new row in ``reviews`` (who, when, the rating it refers to, old grade, new
grade, reason, optional expiry); nothing is updated or deleted. The **effective grade** of a
customer is the grade of its latest rating, unless its latest review is an override (or a rejected
change, which puts the previous grade back) that has not expired: a review stands until it
expires or the next review replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.store.tables import grades, reviews
from customer_tiering.store.tier_store import TierStore, now_utc

__all__ = ["Effective", "audit_log", "decide", "effective_grade", "review_queue"]

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

