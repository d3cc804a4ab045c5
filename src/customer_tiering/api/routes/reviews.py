"""The review queue and the audit trail (reviewer role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator

from customer_tiering.api import schemas as api
from customer_tiering.api.bounds import plain_text
from customer_tiering.api.deps import Lang, State, require_reviewer
from customer_tiering.api.service import grade_lines
from customer_tiering.rating.reviews import audit_log, work_queue

router = APIRouter(prefix="/v1/reviews", tags=["reviews"],
                   dependencies=[Depends(require_reviewer)])
_ERRORS = api.error_responses(401, 403, 404)


@router.get("", response_model=list[api.ReviewEntry], responses=_ERRORS)
def list_reviews(state: State,
                 customer_id: Annotated[str | None, Query(max_length=128), AfterValidator(plain_text)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[api.ReviewEntry]:
    """The audit trail of overrides and reviews, newest first (append-only)."""
    frame = audit_log(state.store, customer_id=customer_id, limit=limit, offset=offset)
    return [api.ReviewEntry(**{str(k): (None if v != v else v) for k, v in row.items()})
            for row in frame.to_dict(orient="records")]


@router.get("/queue", response_model=list[api.QueueItem], responses=_ERRORS)
def queue(state: State, response: Response,
          rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID,
                                                 description="default: the latest periodic")
                               ] = None,
          lang: Lang = "zh",
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[api.QueueItem]:
    """The reviewers' work, most important first: grade changes not reviewed yet (into or out of
    the highest grade first, the largest moves first), overrides ending within 30 days, then
    unchanged provisional grades. ``X-Total-Count`` holds how many items there are in all."""
    rating = state.store.rating_or_latest(rating_id)
    order, _ = grade_lines(state, rating)
    found = work_queue(state.store, rating.id, order, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(found.total_count)
    return [api.QueueItem(customer_id=r["customer_id"], customer_name=r["customer_name"],
                          total=float(r["total"]), grade=r["grade"],
                          previous_grade=r["previous_grade"], provisional=r["provisional"],
                          reason=r["reason_zh" if lang == "zh" else "reason_en"],
                          kind=r["kind"], actionable=r["actionable"], steps=r["steps"],
                          expires_at=r["expires_at"], override_grade=r["override_grade"])
            for r in found.rows]
