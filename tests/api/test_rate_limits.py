"""The per-key cost budget (token buckets), on a clock the test moves by hand."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from customer_tiering.api.rate_limits import CostBudget, export_cost, what_if_cost
from customer_tiering.core.settings import Settings


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_spends_its_burst_then_waits_for_the_refill() -> None:
    clock = Clock()
    budget = CostBudget(burst=100, per_second=10, clock=clock)
    assert budget.charge("k", 60) is None
    assert budget.charge("k", 60) == pytest.approx(2.0)  # 40 left, 20 short, 10 a second
    clock.now += 1.0
    assert budget.charge("k", 60) == pytest.approx(1.0)  # a refusal takes nothing
    clock.now += 1.0
    assert budget.charge("k", 60) is None
    clock.now += 3_600
    assert budget.charge("k", 100) is None  # the bucket never holds more than the burst
    assert budget.charge("k", 1) == pytest.approx(0.1)


def test_each_key_has_a_budget_of_its_own() -> None:
    budget = CostBudget(burst=100, per_second=1, clock=Clock())
    assert budget.charge("spender", 100) is None
    assert budget.charge("spender", 1) is not None
    assert budget.charge("other", 100) is None


def test_a_request_above_the_whole_bucket_needs_a_full_one_and_empties_it() -> None:
    clock = Clock()
    budget = CostBudget(burst=100, per_second=10, clock=clock)
    assert budget.charge("k", 5_000) is None
    assert budget.charge("k", 5_000) == pytest.approx(10.0)
    clock.now += 10
    assert budget.charge("k", 5_000) is None


def test_a_zero_burst_turns_the_limits_off() -> None:
    budget = CostBudget(burst=0, per_second=0, clock=Clock())
    assert all(budget.charge("k", 1e9) is None for _ in range(10))


def test_the_default_budget_refuses_a_third_explained_batch_of_10000_with_retry_after() -> None:
    defaults = Settings()
    budget = CostBudget(defaults.rate_limit_burst, defaults.rate_limit_per_second, clock=Clock())
    batch = what_if_cost(10_000, explain=True)
    budget.spend("viewer", batch, "a batch")
    budget.spend("viewer", batch, "a batch")
    with pytest.raises(HTTPException) as refused:
        budget.spend("viewer", batch, "a batch of 10,000 explained what-ifs")
    assert refused.value.status_code == 429
    retry_after = int(refused.value.headers["Retry-After"])  # type: ignore[index]
    assert retry_after == round(batch / defaults.rate_limit_per_second)
    assert "viewer" in refused.value.detail and "10,000 explained" in refused.value.detail


def test_explanations_and_xlsx_cost_more_than_plain_scores_and_csv() -> None:
    assert what_if_cost(100, explain=True) > what_if_cost(100, explain=False) > 0
    assert export_cost(100, "xlsx") > export_cost(100, "csv") > 0


def test_a_budget_that_never_refills_asks_for_a_day() -> None:
    budget = CostBudget(burst=10, per_second=0, clock=Clock())
    budget.spend("k", 10, "x")
    with pytest.raises(HTTPException) as refused:
        budget.spend("k", 1, "x")
    assert refused.value.headers == {"Retry-After": "86400"}
