"""The review queue and the audit trail (reviewer role)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from customer_tiering.api import schemas as api
from customer_tiering.api.deps import State, require
from customer_tiering.core.errors import TieringError
from customer_tiering.rating.reviews import audit_log, review_queue
from customer_tiering.store.keys import ApiKey

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
Reviewer = Annotated[ApiKey, Depends(require("reviewer"))]
_ERRORS = api.error_responses(401, 403, 404)


@router.get("", response_model=list[api.ReviewEntry], responses=_ERRORS)
def list_reviews(state: State, _key: Reviewer,
                 customer_id: Annotated[str | None, Query(max_length=128)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[api.ReviewEntry]:
    """The audit trail of overrides and reviews, newest first (append-only)."""
    frame = audit_log(state.store, customer_id=customer_id, limit=limit, offset=offset)
    return [api.ReviewEntry(**{str(k): (None if v != v else v) for k, v in row.items()})
            for row in frame.to_dict(orient="records")]


@router.get("/queue", response_model=list[api.QueueItem], responses=_ERRORS)
def queue(state: State, _key: Reviewer,
          rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID)] = None,
          lang: Annotated[Literal["zh", "en"], Query()] = "zh",
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[api.QueueItem]:
    """Customers whose grade changed or is provisional and who were not reviewed yet."""
    if rating_id is None:
        latest = state.store.latest_rating_id(kind="periodic")
        if latest is None:
            raise TieringError("no periodic rating yet")
        rating_id = latest
    frame = review_queue(state.store, rating_id, limit=limit, offset=offset)
    return [api.QueueItem(customer_id=r["customer_id"], customer_name=r["customer_name"],
                          total=float(r["total"]), grade=r["grade"],
                          previous_grade=r["previous_grade"], provisional=bool(r["provisional"]),
                          reason=r["reason_zh" if lang == "zh" else "reason_en"])
            for r in frame.to_dict(orient="records")]
