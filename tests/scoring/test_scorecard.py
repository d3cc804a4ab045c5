from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_tiering.core.config_io import default_config_dir, load_yaml_model
from customer_tiering.core.errors import InputError
from customer_tiering.scoring.ruleset import grade, load_ruleset
from customer_tiering.scoring.scorecard import ScorecardConfig, score

CARD = load_yaml_model(default_config_dir() / "scorecard.yaml", ScorecardConfig)
RULES = load_ruleset()


def one_criterion(feature: str, values: list[float | None], **others: float) -> np.ndarray:
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(values))], feature: values})
    for name, value in others.items():
        frame[name] = value
    s = score(frame, CARD)
    j = [c.feature for c in CARD.criteria].index(feature)
    return s.points[:, j]


def test_seed001_monthly_sales_bands_band_by_band() -> None:
    units = [0, 0.99, 1, 1.99, 2, 2.99, 3, 4.99, 5, 9.99, 10, 250]
    expected = [0, 0, 10, 10, 20, 20, 30, 30, 40, 40, 50, 50]
    assert one_criterion("avg_monthly_units_12m", units).tolist() == expected


def test_seed001_growth_is_linear_inside_bands() -> None:
    growth = [-0.3, 0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 3.0]
    expected = [0, 0, 2.5, 5, 7.5, 10, 15, 20, 20]
    np.testing.assert_allclose(one_criterion("yoy_growth", growth), expected)


def test_rep_judgements_pass_through_with_band_labels() -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "channel_coverage": [0.0, 7.5, 10.0],
                          "loyalty": [4.0, 5.0, 8.0], "prospects": [9.0, 2.0, 5.0]})
    s = score(frame, CARD)
    table = s.table("zh").set_index(["customer_id", "criterion"])
    assert table.loc[("b", "channel_coverage"), "points"] == 7.5
    assert table.loc[("b", "channel_coverage"), "band"] == "一般"
    assert table.loc[("c", "channel_coverage"), "band"] == "健全"
    assert table.loc[("a", "loyalty"), "band"] == "低"
    assert table.loc[("c", "loyalty"), "band"] == "高"
    assert table.loc[("a", "prospects"), "points"] == 9.0


def test_judgement_outside_its_range_names_row_and_column() -> None:
    frame = pd.DataFrame({"customer_id": ["a", "b"], "loyalty": [5.0, 11.0]})
    with pytest.raises(InputError) as err:
        score(frame, CARD)
    (problem,) = err.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "loyalty", "11")


def test_hand_computed_customers_get_the_seed001_totals_and_grades() -> None:
    frame = pd.DataFrame({
        "customer_id": ["vip", "effective", "core", "potential"],
        "avg_monthly_units_12m": [12.0, 6.0, 10.0, 0.5],
        "yoy_growth": [0.6, 0.35, 0.2, -0.1],
        "channel_coverage": [10.0, 9.0, 8.0, 3.0],
        "loyalty": [9.0, 8.0, 7.0, 2.0],
        "prospects": [9.0, 9.0, 6.0, 1.0],
    })
    graded, _ = grade(frame, RULES)
    # 50+12+10+9+9; 40+7.5+9+8+9; 50+5+8+7+6; 0+0+3+2+1
    assert graded["total"].tolist() == [90.0, 73.5, 76.0, 6.0]
    assert graded["grade"].tolist() == ["VIP", "effective", "core", "potential"]
    assert graded["grade_label"].tolist() == ["VIP", "Effective", "Core", "Potential"]
    assert graded.loc[0, "account_manager"] == "dedicated_team"
    assert graded.loc[0, "complaint_response_days"] < graded.loc[3, "complaint_response_days"]


def test_totals_equal_the_sum_of_the_points_rows() -> None:
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "avg_monthly_units_12m": rng.lognormal(1, 1.2, n),
        "yoy_growth": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0.1, 0.5, n)),
        "channel_coverage": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 11, n)),
        "loyalty": rng.integers(0, 11, n).astype(float),
        "prospects": rng.uniform(0, 10, n),
    })
    s = score(frame, CARD)
    rows = s.table().groupby("customer_id", sort=False)["points"].sum()
    np.testing.assert_allclose(rows.to_numpy(), s.total, rtol=0, atol=1e-12)
    assert (s.total <= CARD.total).all() and (s.total >= 0).all()
    assert s.provisional.sum() == (frame["yoy_growth"].isna() | frame["channel_coverage"].isna()).sum()


def test_missing_policies_zero_neutral_impute_provisional_and_cap() -> None:
    data = CARD.model_dump()
    data["criteria"][0]["missing"] = {"policy": "impute", "value": 5}
    data["criteria"][1]["missing"] = {"policy": "neutral", "points": 7}
    data["criteria"][2]["cap"] = 6
    data["criteria"][3]["missing"] = {"policy": "zero"}
    card = ScorecardConfig.model_validate(data)
    frame = pd.DataFrame({"customer_id": ["a"], "avg_monthly_units_12m": [None],
                          "yoy_growth": [None], "channel_coverage": [9.0], "loyalty": [None],
                          "prospects": [None]})
    s = score(frame, card)
    assert s.points[0].tolist() == [40.0, 7.0, 6.0, 0.0, 0.0]
    assert bool(s.provisional[0])  # prospects keeps the provisional policy
    assert s.missing[0].tolist() == [False, True, False, True, True]


def test_categorical_criterion_maps_chinese_and_english_types() -> None:
    data = CARD.model_dump()
    data["criteria"][4] = {
        "id": "type", "label": {"zh": "客户类型", "en": "Type"}, "feature": "customer_type",
        "max_points": 10, "scoring": {"type": "categorical", "points": {
            "hospital": 10, "distributor": 8, "clinic": 3}, "default": 5},
    }
    card = ScorecardConfig.model_validate(data)
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "customer_type": ["hospital", "single_pharmacy", None]})
    s = score(frame, card)
    assert s.points[:, 4].tolist() == [10.0, 5.0, 0.0]
    assert s.missing[:, 4].tolist() == [False, False, True]


def test_a_card_column_absent_from_the_input_follows_the_missing_policy() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "avg_monthly_units_12m": [3.0]})
    s = score(frame, CARD)
    assert s.points[0].tolist() == [30.0, 5.0, 0.0, 0.0, 0.0]
    assert bool(s.provisional[0])


@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(0, 50, allow_nan=False),
    extra=st.floats(0, 50, allow_nan=False),
    growth=st.one_of(st.none(), st.floats(-1, 5, allow_nan=False)),
)
def test_more_monthly_sales_never_lowers_points(base: float, extra: float, growth: float | None
                                                ) -> None:
    frame = pd.DataFrame({"customer_id": ["low", "high"],
                          "avg_monthly_units_12m": [base, base + extra],
                          "yoy_growth": [growth, growth], "loyalty": [5.0, 5.0]})
    s = score(frame, CARD)
    assert s.points[1, 0] >= s.points[0, 0]
    assert s.total[1] >= s.total[0]


@settings(max_examples=200, deadline=None)
@given(low=st.floats(-1, 5, allow_nan=False), more=st.floats(0, 5, allow_nan=False))
def test_more_growth_never_lowers_points(low: float, more: float) -> None:
    points = one_criterion("yoy_growth", [low, low + more])
    assert points[1] >= points[0] - 1e-12
