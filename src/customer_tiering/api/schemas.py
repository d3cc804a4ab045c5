"""Request and response models of the API (separate from the store's tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from customer_tiering.api.bounds import (
    EARLIEST_DATE,
    Text,
    expiry_in_range,
)
from customer_tiering.api.bounds import MAX_ID as MAX_ID  # the routes' bound on ids
from customer_tiering.api.indicators import Indicators as Indicators  # what-if requests
from customer_tiering.api.indicators import ScoreBatch as ScoreBatch


class Policy(BaseModel):
    account_manager: str
    visits_per_month: float
    complaint_priority: int
    complaint_response_days: float
    discount_tier: str
    recommended_actions: str


class CustomerGrade(BaseModel):
    """A customer's current grade, as the latest rating gave it and as it is in force."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "C0000042", "customer_name": "重庆社区诊所(42)", "region": "西北",
        "customer_type": "clinic", "rating_id": 3, "rating_kind": "periodic",
        "as_of": "2025-12-31", "grade": "dormant", "grade_label": "休眠客户",
        "rated_grade": "dormant", "override_id": None, "override_expires_at": None,
        "previous_grade": "effective", "provisional": False, "total": 52.15,
        "scorecard_total": 32.9, "churn_probability": 0.031,
        "expected_value_next_period": 4743.7, "segment": "忠诚 loyal",
        "reason": "主要因素：销售额增长 -4.0；忠诚度 -3.6；发展前景 +2.8",
        "policy": {"account_manager": "sales_team", "visits_per_month": 0.5,
                   "complaint_priority": 4, "complaint_response_days": 10,
                   "discount_tier": "standard", "recommended_actions": "唤醒：电话回访，了解停购原因"}}]})

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


class StoryPart(BaseModel):
    part: str = Field(description="scorecard, retention, value or segment")
    item: str = Field(description="criterion id, or the model part's name")
    label: str
    points: float = Field(description="points this part adds to the total, from zero (a model "
                                      "part: its rows summed); the page's waterfall bar")
    max_points: float | None = Field(None, description="most points the part can add")


class StoryGap(BaseModel):
    grade: str = Field(description="the neighbouring grade")
    grade_label: str
    line: float = Field(description="the lowest total of the higher of the two grades")
    points: float = Field(description="how far the total is from that line (>= 0)")
    items: list[str] = Field(description="up: the parts with the most points still to gain; "
                                         "down: the parts adding the most points")


class ExplanationStory(BaseModel):
    measured_from: Literal["zero"] = Field(
        "zero", description="every part's points count from zero points")
    scorecard_weight: float | None = Field(
        None, description="the card's points count times this in the total (blend.yaml)")
    max_total: float
    parts: list[StoryPart] = Field(description="the waterfall's bars; they add up to the total")
    next_up: StoryGap | None = None
    next_down: StoryGap | None = None
    missing_inputs: list[str] = Field(default_factory=list,
                                      description="criteria whose input was missing")


class Explanation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "C0000042", "rating_id": 3, "total": 52.15, "scorecard_points": 32.9,
        "model_points": 19.25, "reason": "主要因素：销售额增长 -4.0；忠诚度 -3.6",
        "rows": [
            {"part": "scorecard", "item": "avg_monthly_sales", "label": "平均月销售",
             "value": 3.4, "band": "3件", "points": 21.0},
            {"part": "retention", "item": "baseline", "label": "留存（流失模型）: 模型基准",
             "value": None, "band": "", "points": 12.9},
            {"part": "retention", "item": "days_since_last_order",
             "label": "留存（流失模型）: 距上次下单天数", "value": 35, "band": "", "points": 1.1}]}]})

    customer_id: str
    rating_id: int | None = None
    total: float
    scorecard_points: float
    model_points: float
    rows: list[ExplanationRow] = Field(description="rows whose points add up to the total")
    reason: str
    story: ExplanationStory | None = Field(
        None, description="the rows as the customer page tells them: parts from zero, the "
                          "blend's weight, the distance to the neighbouring grades")


class HistoryEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "rating_id": 3, "kind": "periodic", "as_of": "2025-12-31", "total": 52.15,
        "grade": "dormant", "previous_grade": "effective", "provisional": False, "reason": None}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "rating_id": 3, "total_count": 1, "page": 1, "page_size": 50,
        "items": [{"customer_id": "C0000007", "customer_name": "华东医院(7)", "region": "华东",
                   "customer_type": "hospital", "segment": "高价值活跃 champions",
                   "total": 91.2, "grade": "VIP", "previous_grade": "core",
                   "provisional": False, "churn_probability": 0.01,
                   "expected_value_next_period": 310000.0}]}]})

    rating_id: int
    total_count: int
    page: int
    page_size: int
    items: list[GradeListItem]


class ScoreResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "C0000042", "total": 61.4, "grade": "effective", "grade_label": "有效客户",
        "provisional": False, "churn_probability": 0.05, "expected_value_next_period": 21000.0,
        "segment": "忠诚 loyal", "reason": "主要因素：平均月销售 +6.8；忠诚度 +1.2",
        "explanation": [{"part": "scorecard", "item": "loyalty", "label": "忠诚度", "value": 8,
                         "band": "高", "points": 5.6}]}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "model_versions": {"tiering-segments": "2", "tiering-churn": "4", "tiering-value": "3"},
        "results": [{"customer_id": "C1", "total": 61.4, "grade": "effective",
                     "grade_label": "有效客户", "provisional": False, "churn_probability": 0.05,
                     "expected_value_next_period": 21000.0, "segment": "忠诚 loyal",
                     "reason": "主要因素：平均月销售 +6.8", "explanation": None}]}]})

    model_versions: dict[str, str]
    results: list[ScoreResult]


class SpecialRatingRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "签订年度大单"}]})

    reason: Text = Field(min_length=1, max_length=2000)
    as_of: date | None = Field(None, ge=EARLIEST_DATE)

    @field_validator("as_of")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        # a rating dated after today would become the grade in force before its day comes
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError(f"{value} is in the future; a rating is dated today or earlier")
        return value


class OverrideRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"new_grade": "VIP", "reason": "战略合作医院", "expires_at": "2026-12-31T00:00:00Z"}]})

    new_grade: Text = Field(min_length=1, max_length=32)
    reason: Text = Field(min_length=1, max_length=2000)
    expires_at: datetime | None = None

    _expiry_in_range = field_validator("expires_at")(expiry_in_range)


class ReviewRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "accept", "reason": "销量确实下降"}]})

    action: Literal["accept", "reject"]
    reason: Text = Field(min_length=1, max_length=2000)


class ReviewEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 12, "customer_id": "C0000042", "rating_id": 3, "action": "override",
        "old_grade": "dormant", "new_grade": "VIP", "reason": "战略合作医院",
        "reviewer": "王经理", "created_at": "2026-01-05T08:00:00Z",
        "expires_at": "2026-12-31T00:00:00Z"}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "customer_id": "C0000042", "customer_name": "重庆社区诊所(42)", "total": 52.15,
        "grade": "dormant", "previous_grade": "effective", "provisional": False,
        "reason": "主要因素：销售额增长 -4.0"}]})

    customer_id: str
    customer_name: str | None = None
    total: float
    grade: str
    previous_grade: str | None = None
    provisional: bool
    reason: str
    kind: Literal["vip_change", "change", "expiring", "provisional"] = Field(
        "change", description="why it is queued: a change into or out of the highest grade, "
                              "another grade change, an override ending within 30 days, or an "
                              "unchanged provisional grade")
    actionable: bool = Field(True, description="a grade change: can be accepted or rejected")
    steps: int = Field(0, description="grades moved by the change (up positive)")
    expires_at: datetime | None = Field(None, description="when the override in force ends")
    override_grade: str | None = Field(None, description="the grade the ending override set")


class RatingSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "kind": "periodic", "as_of": "2025-12-31", "scheme": "seed001_five",
        "horizon_days": 90, "customer_id": None, "reason": None,
        "created_at": "2026-01-01T02:00:00Z", "customer_count": 5000,
        "configs": {"versions": {"scorecard": "2025.2", "blend": "2025.2"}},
        "models": {"tiering-churn": {"version": "4", "run_id": "ab12"}}}]})

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
    psi: float | None = Field(None, description="none when the column changed presence")
    change: str | None = Field(None, description="'known -> unknown' or 'unknown -> known'")
    warning: bool


class RatingDetail(RatingSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "kind": "periodic", "as_of": "2025-12-31", "scheme": "seed001_five",
        "horizon_days": 90, "customer_id": None, "reason": None,
        "created_at": "2026-01-01T02:00:00Z", "customer_count": 5000,
        "configs": {"versions": {"scorecard": "2025.2"}}, "models": {},
        "grade_shares": [{"grade": "VIP", "label": "VIP客户", "customers": 59, "revenue": 1.2e7,
                          "customer_share": 0.012, "revenue_share": 0.108}],
        "previous_rating_id": 2, "migration": {"core": {"VIP": 4, "core": 900}},
        "drift": [{"source": "tiering-churn", "column": "days_since_last_order", "psi": 0.03,
                   "warning": False}]}]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "loaded_at": "2026-01-01T02:00:00Z", "last_check": "2026-01-01T03:00:00Z",
        "last_error": None,
        "models": [{"name": "tiering-churn", "version": "4", "run_id": "ab12",
                    "metrics": {"model.roc_auc": 0.916, "bgnbd.roc_auc": 0.900}}]}]})

    loaded_at: datetime | None
    last_check: datetime | None
    last_error: str | None
    models: list[ModelInfo]


class Ready(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ready", "store": "ok",
        "models": {"tiering-segments": "2", "tiering-churn": "4", "tiering-value": "3"},
        "model_error": None}]})

    status: Literal["ready", "degraded", "not ready"]
    store: str
    models: dict[str, str]
    model_error: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "customer 'C9' has no grade"}]})

    detail: str


class FieldError(BaseModel):
    field: str = Field(description="where: body.<name>, query.<name>, path.<name>")
    message: str


class ValidationProblem(BaseModel):
    """What a 422 holds: the fields refused, each with why."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "detail": "invalid request: body.loyalty",
        "errors": [{"field": "body.loyalty", "message": "Input should be less than or equal to 10"}]}]})

    detail: str
    errors: list[FieldError]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error codes answered with a :class:`Message`."""
    return {code: {"model": Message} for code in codes}
