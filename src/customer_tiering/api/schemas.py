"""Request and response models of the API (separate from the store's tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_CUSTOMER: dict[str, Any] = {"customer_id": "C0000042", "days_since_last_order": 35, "order_count_90d": 3,
             "order_count_180d": 6, "order_count_365d": 12, "monetary_amount_90d": 24000,
             "monetary_amount_180d": 50000, "monetary_amount_365d": 98000,
             "avg_monthly_amount_12m": 8166.7, "avg_monthly_units_12m": 6.5, "yoy_growth": 0.25,
             "tenure_days": 800, "mean_days_between_orders": 28, "std_days_between_orders": 9,
             "distinct_products_365d": 4, "return_share_365d": 0.02, "complaint_count_365d": 1,
             "open_complaint_count": 0, "channel_coverage": 7, "loyalty": 8, "prospects": 6,
             "customer_type": "hospital", "region": "华东"}


MAX_ID = 2**31 - 1  # ids are 32-bit integers in every store


class Policy(BaseModel):
    account_manager: str
    visits_per_month: float
    complaint_priority: int
    complaint_response_days: float
    discount_tier: str
    recommended_actions: str


class CustomerGrade(BaseModel):
    """A customer's current grade, as the latest rating gave it and as it is in force."""

    customer_id: str
    customer_name: str | None = None
    region: str | None = None
    customer_type: str | None = None
    rating_id: int
    rating_kind: str
    as_of: date
    grade: str = Field(description="the grade in force (an unexpired override wins)")
    grade_label: str
    rated_grade: str = Field(description="the grade the rating gave")
    override_id: int | None = None
    override_expires_at: datetime | None = None
    previous_grade: str | None = None
    provisional: bool
    total: float
    scorecard_total: float
    churn_probability: float | None = None
    expected_value_next_period: float | None = None
    segment: str | None = None
    reason: str
    policy: Policy | None = None


class ExplanationRow(BaseModel):
    part: str = Field(description="scorecard, retention, value or segment")
    item: str
    label: str
    value: Any = None
    band: str = ""
    points: float


class Explanation(BaseModel):
    customer_id: str
    rating_id: int | None = None
    total: float
    scorecard_points: float
    model_points: float
    rows: list[ExplanationRow] = Field(description="rows whose points add up to the total")
    reason: str


class HistoryEntry(BaseModel):
    rating_id: int
    kind: str
    as_of: date
    total: float
    grade: str
    previous_grade: str | None = None
    provisional: bool
    reason: str | None = None


class GradeListItem(BaseModel):
    customer_id: str
    customer_name: str | None = None
    region: str | None = None
    customer_type: str | None = None
    segment: str | None = None
    total: float
    grade: str
    previous_grade: str | None = None
    provisional: bool
    churn_probability: float | None = None
    expected_value_next_period: float | None = None


class GradePage(BaseModel):
    rating_id: int
    total_count: int
    page: int
    page_size: int
    items: list[GradeListItem]


class Indicators(BaseModel):
    """One customer's indicators for what-if scoring (missing ones count as unknown)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [dict(_CUSTOMER)]})

    customer_id: str = Field("what-if", max_length=128)
    days_since_last_order: float | None = Field(None, ge=0)
    order_count_90d: float | None = Field(None, ge=0)
    order_count_180d: float | None = Field(None, ge=0)
    order_count_365d: float | None = Field(None, ge=0)
    monetary_amount_90d: float | None = None
    monetary_amount_180d: float | None = None
    monetary_amount_365d: float | None = None
    avg_monthly_amount_12m: float | None = None
    avg_monthly_units_12m: float | None = None
    yoy_growth: float | None = Field(None, ge=-1)
    tenure_days: float | None = Field(None, ge=0)
    mean_days_between_orders: float | None = Field(None, ge=0)
    std_days_between_orders: float | None = Field(None, ge=0)
    distinct_products_365d: float | None = Field(None, ge=0)
    return_share_365d: float | None = Field(None, ge=0)
    complaint_count_365d: float | None = Field(None, ge=0)
    open_complaint_count: float | None = Field(None, ge=0)
    channel_coverage: float | None = Field(None, ge=0, le=10)
    loyalty: float | None = Field(None, ge=0, le=10)
    prospects: float | None = Field(None, ge=0, le=10)
    nps: float | None = Field(None, ge=-100, le=100)
    customer_type: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=128)


class ScoreBatch(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"customers": [_CUSTOMER]}]})

    customers: list[Indicators] = Field(min_length=1, max_length=10_000)


class ScoreResult(BaseModel):
    customer_id: str
    total: float
    grade: str
    grade_label: str
    provisional: bool
    churn_probability: float | None = None
    expected_value_next_period: float | None = None
    segment: str | None = None
    reason: str
    explanation: list[ExplanationRow] | None = None


class ScoreResponse(BaseModel):
    model_versions: dict[str, str]
    results: list[ScoreResult]


class SpecialRatingRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "签订年度大单"}]})

    reason: str = Field(min_length=1, max_length=2000)
    as_of: date | None = None


class OverrideRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"new_grade": "VIP", "reason": "战略合作医院", "expires_at": "2026-12-31T00:00:00Z"}]})

    new_grade: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: datetime | None = None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "accept", "reason": "销量确实下降"}]})

    action: Literal["accept", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


class ReviewEntry(BaseModel):
    id: int
    customer_id: str
    rating_id: int
    action: str
    old_grade: str | None = None
    new_grade: str
    reason: str
    reviewer: str
    created_at: datetime
    expires_at: datetime | None = None


class QueueItem(BaseModel):
    customer_id: str
    customer_name: str | None = None
    total: float
    grade: str
    previous_grade: str | None = None
    provisional: bool
    reason: str


class RatingSummary(BaseModel):
    id: int
    kind: str
    as_of: date
    scheme: str
    horizon_days: int | None = None
    customer_id: str | None = None
    reason: str | None = None
    created_at: datetime
    customer_count: int
    configs: dict[str, Any]
    models: dict[str, Any]


class GradeShare(BaseModel):
    grade: str
    label: str
    customers: int
    revenue: float
    customer_share: float
    revenue_share: float


class DriftEntry(BaseModel):
    source: str
    column: str
    psi: float
    warning: bool


class RatingDetail(RatingSummary):
    grade_shares: list[GradeShare]
    previous_rating_id: int | None = None
    migration: dict[str, dict[str, int]] | None = Field(
        None, description="customers by grade in the previous rating (outer key) and this one")
    drift: list[DriftEntry]


class ModelInfo(BaseModel):
    name: str
    version: str
    run_id: str
    metrics: dict[str, float]


class ModelsResponse(BaseModel):
    loaded_at: datetime | None
    last_check: datetime | None
    last_error: str | None
    models: list[ModelInfo]


class Ready(BaseModel):
    status: Literal["ready", "degraded", "not ready"]
    store: str
    models: dict[str, str]
    model_error: str | None = None


class Message(BaseModel):
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error codes answered with a :class:`Message`."""
    return {code: {"model": Message} for code in codes}
