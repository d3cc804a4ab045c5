"""Ratings and their summaries: grade shares, migration matrix, drift."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from customer_tiering.api import schemas as api
from customer_tiering.api.deps import Lang, State, require_viewer
from customer_tiering.store.tier_store import RatingRecord

router = APIRouter(prefix="/v1/ratings", tags=["ratings"], dependencies=[Depends(require_viewer)])
_ERRORS = api.error_responses(401, 403, 404)


def _summary(record: RatingRecord) -> dict[str, object]:
    return {"id": record.id, "kind": record.kind, "as_of": record.as_of, "scheme": record.scheme,
            "horizon_days": record.horizon_days, "customer_id": record.customer_id,
            "reason": record.reason, "created_at": record.created_at,
            "customer_count": record.customer_count, "configs": record.configs,
            "models": record.models}


@router.get("", response_model=list[api.RatingSummary], responses=_ERRORS)
def list_ratings(state: State,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[api.RatingSummary]:
    """Stored ratings, newest first."""
    ids = state.store.ratings()["id"].tolist()[:limit]
    return [api.RatingSummary(**_summary(state.store.rating(int(i)))) for i in ids]


@router.get("/{rating_id}", response_model=api.RatingDetail, responses=_ERRORS)
def get_rating(rating_id: Annotated[int, Path(ge=1, le=api.MAX_ID)], state: State,
               lang: Lang = "zh") -> api.RatingDetail:
    """A rating with its grade shares (the 80/20 check), migration from the previous, drift."""
    record = state.store.rating(rating_id)
    shares = state.store.grade_shares(rating_id)
    previous = state.store.previous_periodic(rating_id) if record.kind == "periodic" else None
    migration = None
    if previous is not None:
        matrix = state.store.migration_matrix(previous.id, rating_id)
        migration = {str(f): {str(t): int(v) for t, v in row.items()}
                     for f, row in matrix.iterrows()}
    return api.RatingDetail(
        **_summary(record),
        grade_shares=[api.GradeShare(grade=str(r["grade"]),
                                     label=record.grade_labels.get(str(r["grade"]), {}).get(
                                         lang, str(r["grade"])),
                                     customers=int(r["customers"]), revenue=float(r["revenue"]),
                                     customer_share=float(r["customer_share"]),
                                     revenue_share=float(r["revenue_share"]))
                      for r in shares.to_dict(orient="records")],
        previous_rating_id=None if previous is None else previous.id, migration=migration,
        drift=[api.DriftEntry(**d) for d in record.drift])
