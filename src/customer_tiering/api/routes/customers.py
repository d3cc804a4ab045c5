"""A customer's grade, explanation and history; special rating; reviews of one customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from customer_tiering.api import schemas as api
from customer_tiering.api.bounds import CustomerIdPath
from customer_tiering.api.deps import Lang, Reviewer, State, require_viewer
from customer_tiering.api.rate_limits import SPECIAL_RATING
from customer_tiering.api.service import customer_explanation, customer_grade
from customer_tiering.rating.reviews import decide
from customer_tiering.store.tier_store import UnknownRatingError

router = APIRouter(prefix="/v1/customers", tags=["customers"])
_ERRORS = api.error_responses(401, 403, 404)
_VIEWER = [Depends(require_viewer)]


@router.get("/{customer_id}", response_model=api.CustomerGrade, responses=_ERRORS,
            dependencies=_VIEWER)
def get_grade(customer_id: CustomerIdPath, state: State, lang: Lang = "zh") -> api.CustomerGrade:
    """The customer's current grade with its service policy, model scores and rating id."""
    return customer_grade(state, customer_id, lang)


@router.get("/{customer_id}/explanation", response_model=api.Explanation, responses=_ERRORS,
            dependencies=_VIEWER)
def get_explanation(customer_id: CustomerIdPath, state: State, lang: Lang = "zh",
                    rating_id: Annotated[int | None, Query(ge=1, le=api.MAX_ID)] = None
                    ) -> api.Explanation:
    """Rows (scorecard criteria, model contributions) whose points add up to the total."""
    return customer_explanation(state, customer_id, rating_id, lang)


@router.get("/{customer_id}/history", response_model=list[api.HistoryEntry], responses=_ERRORS,
            dependencies=_VIEWER)
def get_history(customer_id: CustomerIdPath, state: State) -> list[api.HistoryEntry]:
    """Every grade the customer was given, oldest first."""
    frame = state.store.customer_history(customer_id)
    if frame.empty:
        raise UnknownRatingError(f"customer {customer_id!r} has no grade")
    return [api.HistoryEntry(
        rating_id=int(row["rating_id"]), kind=str(row["kind"]), as_of=row["as_of"],
        total=float(row["total"]), grade=str(row["grade"]),
        previous_grade=_text(row["previous_grade"]), provisional=bool(row["provisional"]),
        reason=_text(row["reason"])) for row in frame.to_dict(orient="records")]


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)


@router.post("/{customer_id}/special-rating", response_model=api.CustomerGrade, status_code=201,
             responses=api.error_responses(400, 401, 403, 404, 429))
async def special_rating(customer_id: CustomerIdPath, body: api.SpecialRatingRequest, state: State,
                         key: Reviewer, lang: Lang = "zh") -> api.CustomerGrade:
    """Re-grade one customer now from the clean data (特殊评级) with the models in use (those
    ``/health/ready`` names); stored with its reason. Charged to the key's budget (429 when it
    is spent)."""
    from customer_tiering.rating.runs import run_special_rating

    state.budget.spend(key.key_id, SPECIAL_RATING, "a special rating")
    model_set = state.holder.current  # the smoke-checked set, not whatever the alias says now
    await run_in_threadpool(
        run_special_rating, customer_id=customer_id,
        reason=f"{body.reason} (by {key.name})", settings=state.settings,
        data_dir=state.settings.clean_data(), as_of=body.as_of,
        champions=model_set.models, configs=state.configs)
    return customer_grade(state, customer_id, lang)


@router.post("/{customer_id}/overrides", response_model=api.ReviewEntry, status_code=201,
             responses=api.error_responses(400, 401, 403, 404))
def override(customer_id: CustomerIdPath, body: api.OverrideRequest, state: State, key: Reviewer
             ) -> api.ReviewEntry:
    """Override the grade (reason required, optional expiry); appended to the audit trail."""
    entry = decide(state.store, customer_id, "override", reviewer=key.name, reason=body.reason,
                   new_grade=body.new_grade, expires_at=body.expires_at)
    return api.ReviewEntry(**entry)


@router.post("/{customer_id}/review", response_model=api.ReviewEntry, status_code=201,
             responses=api.error_responses(400, 401, 403, 404))
def review(customer_id: CustomerIdPath, body: api.ReviewRequest, state: State, key: Reviewer
           ) -> api.ReviewEntry:
    """Accept or reject the grade change the latest rating suggested."""
    entry = decide(state.store, customer_id, body.action, reviewer=key.name, reason=body.reason)
    return api.ReviewEntry(**entry)
