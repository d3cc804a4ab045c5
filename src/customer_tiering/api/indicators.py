"""What a what-if request carries: one customer's indicators, bounded field by field, and a batch.

Infinity and NaN are not indicators, and every number has bounds (:mod:`customer_tiering.api.bounds`):
a request outside them is refused with the field's name (a 422), never graded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from customer_tiering.api.bounds import MAX_RATIO, Amount, Count, Days, Ratio, Text

__all__ = ["EXAMPLE_CUSTOMER", "Indicators", "ScoreBatch"]

EXAMPLE_CUSTOMER: dict[str, Any] = {
             "customer_id": "C0000042", "days_since_last_order": 35, "order_count_90d": 3,
             "order_count_180d": 6, "order_count_365d": 12, "monetary_amount_90d": 24000,
             "monetary_amount_180d": 50000, "monetary_amount_365d": 98000,
             "avg_monthly_amount_12m": 8166.7, "avg_monthly_units_12m": 6.5, "yoy_growth": 0.25,
             "tenure_days": 800, "mean_days_between_orders": 28, "std_days_between_orders": 9,
             "distinct_products_365d": 4, "return_share_365d": 0.02, "complaint_count_365d": 1,
             "open_complaint_count": 0, "channel_coverage": 7, "loyalty": 8, "prospects": 6,
             "customer_type": "hospital", "region": "华东"}


class Indicators(BaseModel):
    """One customer's indicators for what-if scoring (missing ones count as unknown)."""

    # Infinity and NaN are not indicators, and every number has bounds (api/bounds.py): refused
    # with the field's name (a 422), never graded
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False,
                              json_schema_extra={"examples": [dict(EXAMPLE_CUSTOMER)]})

    customer_id: Text = Field("what-if", max_length=128)
    days_since_last_order: Days | None = None
    order_count_90d: Count | None = None
    order_count_180d: Count | None = None
    order_count_365d: Count | None = None
    monetary_amount_90d: Amount | None = None
    monetary_amount_180d: Amount | None = None
    monetary_amount_365d: Amount | None = None
    avg_monthly_amount_12m: Amount | None = None
    avg_monthly_units_12m: Amount | None = None
    yoy_growth: float | None = Field(None, ge=-1, le=MAX_RATIO)
    tenure_days: Days | None = None
    mean_days_between_orders: Days | None = None
    std_days_between_orders: Days | None = None
    last_gap_days: Days | None = None
    recency_to_mean_gap: Ratio | None = None
    distinct_products_365d: Count | None = None
    return_share_365d: Ratio | None = None
    complaint_count_365d: Count | None = None
    open_complaint_count: Count | None = None
    days_since_last_complaint: Days | None = None
    days_since_last_visit: Days | None = None
    days_since_last_survey: Days | None = None
    last_survey_score: float | None = Field(None, ge=-100, le=100)
    repeat_purchase_days: Days | None = None
    days_first_to_last_purchase: Days | None = None
    days_since_first_purchase: Days | None = None
    mean_repeat_purchase_amount: Amount | None = None
    channel_coverage: float | None = Field(None, ge=0, le=10)
    loyalty: float | None = Field(None, ge=0, le=10)
    prospects: float | None = Field(None, ge=0, le=10)
    nps: float | None = Field(None, ge=-100, le=100)
    customer_type: Text | None = Field(None, max_length=64)
    region: Text | None = Field(None, max_length=128)


class ScoreBatch(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"customers": [EXAMPLE_CUSTOMER]}]})

    customers: list[Indicators] = Field(min_length=1, max_length=10_000)
