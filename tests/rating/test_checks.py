"""The sanity checks every rating runs: one grade holding most customers, grades out of order,
points made only by missing-input policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.rating.checks import failed_checks, rating_checks
from customer_tiering.scoring.criteria import ScorecardConfig
from customer_tiering.scoring.grading import GradesConfig
from customer_tiering.scoring.scorecard import score

CONFIG = Path(__file__).resolve().parents[2] / "serving" / "config"
GRADES = load_yaml_model(CONFIG / "grades.yaml", GradesConfig)
CARD = load_yaml_model(CONFIG / "scorecard.yaml", ScorecardConfig)
FIVE = GRADES.scheme("seed001_five")


def scores_of(n: int, with_inputs: bool = True):  # type: ignore[no-untyped-def]
    value = np.linspace(0, 20, n) if with_inputs else np.full(n, np.nan)
    return score(pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)],
                               "avg_monthly_units_12m": value}), CARD)


def by_id(checks: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["id"]: c for c in checks}


def test_a_grade_holding_more_than_80_percent_is_flagged_with_the_fix() -> None:
    grade = np.array(["potential"] * 90 + ["core"] * 10, dtype=object)
    checks = by_id(rating_checks(grade, FIVE, scores_of(100), revenue=None,
                                 churn_probability=None))
    share = checks["grade_share"]
    assert not share["passed"] and share["details"]["largest"] == "potential"
    assert "Potential holds 90.0%" in share["message"]["en"]
    assert "tiering scorecard fit" in share["fix"]["en"] and "seed003_pareto" in share["fix"]["en"]


def test_quota_schemes_are_not_held_to_the_grade_share_limit() -> None:
    pareto = GRADES.scheme("seed003_pareto")
    grade = np.array(["A"] * 100, dtype=object)
    checks = by_id(rating_checks(grade, pareto, scores_of(100), revenue=None,
                                 churn_probability=None))
    assert "grade_share" not in checks


def test_a_lower_grade_with_more_revenue_than_the_grade_above_is_named() -> None:
    grade = np.array(["VIP"] * 30 + ["core"] * 30 + ["effective"] * 30, dtype=object)
    revenue = np.r_[np.full(30, 500.0), np.full(30, 100.0), np.full(30, 900.0)]
    checks = by_id(rating_checks(grade, FIVE, scores_of(90), revenue=revenue,
                                 churn_probability=None))
    order = checks["grade_order_revenue"]
    assert not order["passed"]
    assert order["details"]["contradictions"] == [["core", "effective"]]
    assert "grade Effective has higher mean revenue" in order["message"]["en"]
    assert "上一等级 骨干客户" in order["message"]["zh"]


def test_a_higher_grade_likelier_to_churn_than_the_one_below_is_named() -> None:
    grade = np.array(["core"] * 40 + ["dormant"] * 40, dtype=object)
    churn = np.r_[np.full(40, 0.6), np.full(40, 0.2)]
    checks = by_id(rating_checks(grade, FIVE, scores_of(80), revenue=None,
                                 churn_probability=churn))
    assert not checks["grade_order_churn"]["passed"]
    assert checks["grade_order_churn"]["details"]["contradictions"] == [["core", "dormant"]]


def test_grades_too_small_to_compare_are_left_out_of_the_order_checks() -> None:
    grade = np.array(["VIP"] * 3 + ["core"] * 40, dtype=object)
    revenue = np.r_[np.full(3, 1.0), np.full(40, 100.0)]
    checks = by_id(rating_checks(grade, FIVE, scores_of(43), revenue=revenue,
                                 churn_probability=None))
    assert checks["grade_order_revenue"]["passed"]


def test_customers_graded_by_missing_input_policies_alone_are_counted() -> None:
    grade = np.array(["potential", "core"] * 50, dtype=object)
    checks = by_id(rating_checks(grade, FIVE, scores_of(100, with_inputs=False), revenue=None,
                                 churn_probability=None))
    policy = checks["policy_only"]
    assert not policy["passed"] and policy["details"]["share"] == 1.0
    assert "loyalty" in policy["details"]["absent"]
    assert [c["id"] for c in failed_checks(list(checks.values()))] == ["policy_only"]
