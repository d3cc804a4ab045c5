from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_tiering.core.config_io import default_config_dir, load_yaml_model
from customer_tiering.scoring.grading import GradeScheme, GradesConfig, assign_grades
from customer_tiering.scoring.policies import PoliciesConfig, check_policies_cover_grades
from customer_tiering.scoring.ruleset import grade, load_ruleset
from customer_tiering.scoring.scorecard import ScorecardConfig

CONFIG = default_config_dir()
GRADES = load_yaml_model(CONFIG / "grades.yaml", GradesConfig)
FIVE = GRADES.schemes["seed001_five"]
ORDER = {g: i for i, g in enumerate(FIVE.grade_ids)}


def scheme(**changes: object) -> GradeScheme:
    return GradeScheme.model_validate({**FIVE.model_dump(), **changes})


def test_every_shipped_preset_loads_and_grades_demo_like_features() -> None:
    for card_file in ("scorecard.yaml", "scorecard_abc.yaml"):
        load_yaml_model(CONFIG / card_file, ScorecardConfig)
    policies = load_yaml_model(CONFIG / "policies.yaml", PoliciesConfig)
    check_policies_cover_grades(policies, GRADES)
    assert set(GRADES.schemes) == {"seed001_five", "seed000_abc", "seed002_abcde",
                                   "seed003_pareto", "pareto_revenue"}
    rng = np.random.default_rng(1)
    n = 300
    features = pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n)],
        "avg_monthly_units_12m": rng.lognormal(1, 1, n), "yoy_growth": rng.normal(0, 0.4, n),
        "channel_coverage": rng.integers(0, 11, n), "loyalty": rng.integers(0, 11, n),
        "prospects": rng.integers(0, 11, n), "avg_monthly_amount_12m": rng.lognormal(9, 1.5, n),
        "days_since_last_order": rng.integers(0, 500, n),
        "monetary_amount_365d": rng.lognormal(10, 1.5, n),
    })
    for name, chosen in GRADES.schemes.items():
        rules = load_ruleset(card=CONFIG / (chosen.scorecard or "scorecard.yaml"))
        graded, _ = grade(features, rules, scheme=name, lang="zh")
        assert set(graded["grade"]) <= set(chosen.grade_ids)
        assert graded["recommended_actions"].notna().all()
        assert graded["grade_label"].str.len().min() > 0


def test_seed001_thresholds_band_by_band() -> None:
    totals = np.array([100, 90, 89.99, 75, 74.99, 60, 59.99, 50, 49.99, 0])
    assert assign_grades(totals, scheme(hysteresis_margin=0)).tolist() == [
        "VIP", "VIP", "core", "core", "effective", "effective", "dormant", "dormant",
        "potential", "potential"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=50))
def test_grade_order_follows_total_order_under_thresholds(totals: list[float]) -> None:
    grades = assign_grades(np.array(totals), FIVE)
    rank = np.array([ORDER[g] for g in grades])
    order = np.argsort(totals, kind="stable")
    # a higher total never gets a lower grade (a larger index)
    assert (np.diff(rank[order]) <= 0).all()


QUOTA = GRADES.schemes["seed003_pareto"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=200))
def test_rank_quota_with_customer_id_tie_break_gives_exactly_the_quota(totals: list[int]) -> None:
    n = len(totals)
    ids = np.array([f"c{i:04d}" for i in range(n)])
    grades = assign_grades(np.array(totals, dtype=float), QUOTA, customer_id=ids)
    cumulative = np.cumsum([g.share for g in QUOTA.grades])
    bounds = np.floor(cumulative * n + 0.5).astype(int)
    counts = [int((grades == g).sum()) for g in QUOTA.grade_ids]
    assert counts == np.diff(np.r_[0, bounds]).tolist()
    # within a tie, the lower customer id gets the higher grade
    frame = pd.DataFrame({"total": totals, "id": ids, "rank": [QUOTA.grade_ids.index(g)
                                                                for g in grades]})
    for _, tied in frame.groupby("total"):
        assert tied.sort_values("id")["rank"].is_monotonic_increasing


def test_rank_quota_tie_rules_move_a_tied_group_together() -> None:
    totals = np.array([90, 80, 80, 80, 70, 60, 50, 40, 30, 20], dtype=float)  # A quota = 2
    ids = np.array([f"c{i}" for i in range(10)])
    exact = assign_grades(totals, QUOTA, customer_id=ids)
    assert exact[:4].tolist() == ["A", "A", "B", "B"]
    up = assign_grades(totals, QUOTA.model_copy(update={"tie_break": "higher_grade"}),
                       customer_id=ids)
    assert up[:4].tolist() == ["A", "A", "A", "A"]
    down = assign_grades(totals, QUOTA.model_copy(update={"tie_break": "lower_grade"}),
                         customer_id=ids)
    assert down[:4].tolist() == ["A", "B", "B", "B"]


def test_revenue_quota_takes_the_customers_making_up_the_first_80_percent() -> None:
    revenue = np.array([100, 50, 20, 10, 5, 5, 5, 3, 2, 0], dtype=float)  # total 200
    grades = assign_grades(np.zeros(10), GRADES.schemes["pareto_revenue"], revenue=revenue,
                           customer_id=np.array([f"c{i}" for i in range(10)]))
    # before-shares: 0, .5, .75 -> A (the third crosses 80%); .85, .9, .925 -> B; .95 on -> C
    assert grades.tolist() == ["A", "A", "A", "B", "B", "B", "C", "C", "C", "C"]


def test_hysteresis_keeps_a_customer_whose_total_moves_inside_the_margin() -> None:
    sticky = scheme(hysteresis_margin=2.0)
    totals = np.array([88.5, 87.9, 91.5, 92.0, 73.5, 72.9, 80.0])
    previous = np.array(["VIP", "VIP", "core", "core", "core", "core", None], dtype=object)
    assert assign_grades(totals, sticky, previous_grade=previous).tolist() == [
        "VIP",        # 88.5 >= 90 - 2: kept
        "core",       # 87.9 crosses the margin: moves
        "core",       # 91.5 < 90 + 2: kept
        "VIP",        # 92.0 crosses: moves up
        "core",       # 73.5 >= 75 - 2: kept
        "effective",  # 72.9: moves down
        "core",       # no previous grade: plain thresholds
    ]
    plain = assign_grades(totals, scheme(hysteresis_margin=0), previous_grade=previous)
    assert plain.tolist() == ["core", "core", "VIP", "VIP", "effective", "effective", "core"]


def test_hysteresis_on_a_quota_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="hysteresis applies to threshold schemes only"):
        GradeScheme.model_validate({**QUOTA.model_dump(), "hysteresis_margin": 1})


def test_higher_grades_are_served_first_and_faster_in_every_scheme() -> None:
    policies = load_yaml_model(CONFIG / "policies.yaml", PoliciesConfig)
    for name, chosen in GRADES.schemes.items():
        table = [policies.policy(name, g) for g in chosen.grade_ids]
        assert [p.complaint_priority for p in table] == sorted(p.complaint_priority for p in table)
        days = [p.complaint_response_days for p in table]
        assert days == sorted(days)
        visits = [p.visits_per_month for p in table]
        assert visits == sorted(visits, reverse=True)
