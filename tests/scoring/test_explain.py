"""Explanation rows on a hand-made blend: top contributors, the "other" row, reasons, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.scoring.blend import BlendConfig, blend
from customer_tiering.scoring.explain import (
    explanation_records,
    explanation_rows,
    reason_lines,
    reference_means,
    top_contributors,
)
from customer_tiering.scoring.scorecard import ScorecardConfig, score

CONFIG = Path(__file__).resolve().parents[2] / "serving" / "config"
FEATURES = ["days_since_last_order", "order_count_90d", "monetary_amount_90d", "yoy_growth",
            "tenure_days", "complaint_count_365d", "return_share_365d"]


@pytest.fixture
def blended_and_features() -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 50
    features = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)],
        "avg_monthly_units_12m": rng.uniform(0, 15, n), "yoy_growth": rng.uniform(-0.5, 1.5, n),
        "channel_coverage": rng.uniform(0, 10, n), "loyalty": rng.uniform(0, 10, n),
        "prospects": rng.uniform(0, 10, n), "days_since_last_order": rng.uniform(0, 300, n),
        "order_count_90d": rng.integers(0, 9, n), "monetary_amount_90d": rng.uniform(0, 1e5, n),
        "tenure_days": rng.uniform(30, 900, n), "complaint_count_365d": rng.integers(0, 3, n),
        "return_share_365d": rng.uniform(0, 0.2, n),
    })
    card = load_yaml_model(CONFIG / "scorecard.yaml", ScorecardConfig)
    cfg = load_yaml_model(CONFIG / "blend.yaml", BlendConfig)

    def contributions(scale: float, bias: float) -> pd.DataFrame:
        frame = pd.DataFrame(rng.normal(0, scale, (n, len(FEATURES))), columns=FEATURES)
        frame["bias"] = bias
        return frame

    blended = blend(score(features, card), cfg, churn_contributions=contributions(0.8, -2.0),
                    value_contributions=contributions(0.6, 9.5), horizon_days=90)
    return blended, features


def test_top_contributors_are_the_largest_by_magnitude_and_other_holds_the_rest(
        blended_and_features: tuple[object, pd.DataFrame]) -> None:
    blended, _ = blended_and_features
    part = blended.models["retention"]
    index, points, other = top_contributors(part, 3)
    for i in range(len(points)):
        magnitudes = np.sort(np.abs(part.feature_points[i]))[::-1]
        np.testing.assert_allclose(np.abs(points[i]), magnitudes[:3])
        rest = np.delete(part.feature_points[i], index[i]).sum()
        assert other[i] == pytest.approx(rest, abs=1e-12)


def test_rows_of_every_customer_sum_to_the_blended_total(
        blended_and_features: tuple[object, pd.DataFrame]) -> None:
    blended, features = blended_and_features
    rows = explanation_rows(blended, features, lang="en")
    sums = rows.groupby("customer_id", sort=False)["points"].sum()
    np.testing.assert_allclose(sums.loc[features["customer_id"]].to_numpy(), blended.total,
                               rtol=0, atol=1e-9)
    one = rows[rows["customer_id"] == "C0"]
    assert one["part"].tolist().count("scorecard") == 5
    assert "Retention (churn model): other features" in one["label"].tolist()
    first = json.loads(explanation_records(blended, features)[0])
    assert first["retention"][1][0][1] is not None  # the top feature's value is kept


def test_the_reason_names_the_largest_mover_in_both_languages(
        blended_and_features: tuple[object, pd.DataFrame]) -> None:
    blended, _ = blended_and_features
    means = reference_means(blended)
    zh, en = reason_lines(blended, means)
    i = 0
    moves = {c.label.en: blended.scorecard_points[i, j] - means[c.id]
             for j, c in enumerate(blended.scorecard.card.criteria)}
    for name, part in blended.models.items():
        word = {"retention": "retention", "value": "value"}[name]
        for f, pts in zip(part.features, part.feature_points[i], strict=True):
            moves[f"({word})|{f}"] = pts
    biggest = max(moves.values(), key=abs)
    assert f"{biggest:+.1f}" in en[i].split(";")[0]
    assert en[i].startswith("Largest movers: ") and zh[i].startswith("主要因素：")
    assert len(en[i].split("; ")) <= 3


def test_each_models_top_features_show_their_own_input_values_when_the_models_differ(
        blended_and_features: tuple[object, pd.DataFrame]) -> None:
    blended, features = blended_and_features
    rng = np.random.default_rng(9)
    own = ["order_count_90d", "avg_monthly_units_12m"]  # one input the churn model has not
    value_contrib = pd.DataFrame(rng.normal(0, 0.6, (len(features), len(own))), columns=own)
    value_contrib["bias"] = 9.5
    mixed = blend(blended.scorecard, blended.config,
                  churn_contributions=pd.DataFrame(
                      np.column_stack([blended.models["retention"].feature_points,
                                       np.full(len(features), -2.0)]),
                      columns=[*FEATURES, "bias"]),
                  value_contributions=value_contrib, horizon_days=90)
    docs = [json.loads(d) for d in explanation_records(mixed, features)]
    for i, doc in enumerate(docs):
        for part in ("retention", "value"):
            for feature, value, _ in doc[part][1]:
                assert value == pytest.approx(float(features[feature].iloc[i]))
        assert {f for f, _, _ in doc["value"][1]} <= set(own)


def test_a_story_has_one_bar_per_part_that_add_up_and_names_the_gaps_to_the_next_grades(
        blended_and_features: tuple[object, pd.DataFrame]) -> None:
    from customer_tiering.scoring.explain import criteria_meta, rows_from_record
    from customer_tiering.scoring.story import grade_story

    blended, features = blended_and_features
    meta = criteria_meta(blended)
    assert {m["weight"] for m in meta if m["part"] == "scorecard"} == {0.7}
    records = explanation_records(blended, features)
    order = ["A", "B", "C"]
    lines = {"A": 70.0, "B": 40.0, "C": None}
    told = {"up": 0, "down": 0}
    for i, record in enumerate(records):
        total = float(blended.total[i])
        grade = "A" if total >= 70 else "B" if total >= 40 else "C"
        rows = list(rows_from_record(str(i), record, meta, "en").itertuples(index=False))
        story = grade_story(rows, meta, total=total, grade=grade, lines=lines, order=order,
                            lang="en")
        assert [p.part for p in story.parts if p.part in ("retention", "value")] == [
            "retention", "value"]  # one bar per model part, its rows summed
        assert abs(sum(p.points for p in story.parts) - total) < 1e-9
        assert story.max_total == pytest.approx(100.0) and story.scorecard_weight == 0.7
        for p in story.parts:
            if p.part == "scorecard":
                assert p.card_points == pytest.approx(p.points / 0.7)
        if grade == "A":
            assert story.up is None
        else:
            told["up"] += 1
            assert story.up is not None and story.up.grade == order[order.index(grade) - 1]
            assert story.up.points == pytest.approx(lines[story.up.grade] - total)
            room = [float(p.max_points) - p.points for p in story.up.movers]
            assert room == sorted(room, reverse=True)  # the most points still to gain first
        if grade == "C":
            assert story.down is None
        else:
            told["down"] += 1
            assert story.down is not None and story.down.grade == order[order.index(grade) + 1]
            assert story.down.points == pytest.approx(total - lines[grade])
            held = [p.points for p in story.down.movers]
            assert held == sorted(held, reverse=True)
    assert told["up"] and told["down"]
