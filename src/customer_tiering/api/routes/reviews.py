"""The review queue and the audit trail (reviewer role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator

from customer_tiering.api import schemas as api
from customer_tiering.api.bounds import plain_text
from customer_tiering.api.deps import Lang, State, require_reviewer
from customer_tiering.rating.reviews import audit_log, review_queue

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
def queue(state: State,
          rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID,
                                                 description="default: the latest periodic")
                               ] = None,
          lang: Lang = "zh",
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[api.QueueItem]:
    """Customers whose grade changed or is provisional and who were not reviewed yet."""
    rating = state.store.rating_or_latest(rating_id)
    frame = review_queue(state.store, rating.id, limit=limit, offset=offset)
    return [api.QueueItem(customer_id=r["customer_id"], customer_name=r["customer_name"],
                          total=float(r["total"]), grade=r["grade"],
                          previous_grade=r["previous_grade"], provisional=bool(r["provisional"]),
                          reason=r["reason_zh" if lang == "zh" else "reason_en"])
            for r in frame.to_dict(orient="records")]
