"""The blend: points maps computed by hand, the secant apportioning, and config validation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.core.errors import ConfigError
from customer_tiering.scoring.blend import (
    BlendConfig,
    RetentionPoints,
    ValuePoints,
    apportion,
    check_blend_fits_card,
)
from customer_tiering.scoring.scorecard import ScorecardConfig

CONFIG = Path(__file__).resolve().parents[2] / "serving" / "config"


def test_retention_points_are_max_points_times_one_minus_the_churn_probability() -> None:
    retention = RetentionPoints(max_points=15)
    p = np.array([0.01, 0.5, 0.9])
    np.testing.assert_allclose(retention.points(np.log(p / (1 - p))), 15 * (1 - p), rtol=1e-12)


def test_value_points_are_log_linear_between_the_anchors_per_30_days() -> None:
    value = ValuePoints(max_points=15, zero_points_at=300, full_points_at=60_000)
    # 90-day amounts: 900 is 300 per 30 days (0 points); 180,000 is 60,000 (15 points);
    # 300 * sqrt(200) per 30 days is halfway on the log scale (7.5 points).
    amounts = np.array([100.0, 900.0, 3 * 300 * math.sqrt(200), 180_000.0, 1e9])
    np.testing.assert_allclose(value.points(np.log(amounts), 90), [0, 0, 7.5, 15, 15], atol=1e-9)
    # the same monthly amount over a 30-day horizon scores the same
    np.testing.assert_allclose(value.points(np.log(amounts / 3), 30),
                               value.points(np.log(amounts), 90), atol=1e-9)


def _contributions(values: np.ndarray, bias: float) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])
    frame["bias"] = bias
    return frame


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (20, 6), elements=st.floats(-4, 4)), st.floats(-5, 5))
def test_apportioned_points_add_up_to_the_points_of_the_score(values: np.ndarray,
                                                             bias: float) -> None:
    for part in (RetentionPoints(max_points=15), ValuePoints(max_points=15, zero_points_at=1,
                                                             full_points_at=50)):
        f = (part.points if isinstance(part, RetentionPoints)
             else lambda s, part=part: part.points(s, 30))
        slope = (part.slope if isinstance(part, RetentionPoints)
                 else lambda s, part=part: part.slope(s, 30))
        base, feature_points, points, _raw = apportion(_contributions(values, bias), f, slope)
        np.testing.assert_allclose(base + feature_points.sum(axis=1), points, rtol=0, atol=1e-9)
        np.testing.assert_allclose(points, f(bias + values.sum(axis=1)), rtol=0, atol=1e-12)
        # Each feature moves the points the way its SHAP value moves the score through the map:
        # the same sign for the rising value map, the opposite sign for the falling retention
        # map (a higher churn log-odds means fewer retention points). Element by element.
        direction = -1.0 if isinstance(part, RetentionPoints) else 1.0
        moved = np.abs(feature_points) > 1e-12
        np.testing.assert_array_equal(np.sign(feature_points)[moved],
                                      direction * np.sign(values)[moved])


@pytest.mark.parametrize(("bias", "move"), [(0.0, 4.5e-10), (math.log(50), -9e-10),
                                            (-1e-10, 9e-10)])
def test_a_tiny_move_across_a_kink_of_the_value_map_still_adds_up(bias: float,
                                                                   move: float) -> None:
    # The anchors (1 and 50 per 30 days) are kinks of the map; a raw score within 1e-9 of the
    # baseline on the other side of one used to get the baseline's slope and miss by ~3e-9.
    value = ValuePoints(max_points=15, zero_points_at=1, full_points_at=50)
    base, feature_points, points, _ = apportion(
        _contributions(np.array([[move, 0.0]]), bias),
        lambda s: value.points(s, 30), lambda s: value.slope(s, 30))
    assert points[0] != base[0]
    assert base[0] + feature_points.sum() == pytest.approx(points[0], rel=0, abs=1e-15)
    assert np.sign(feature_points[0, 0]) == np.sign(move)


def test_a_customer_at_the_baseline_gets_the_maps_slope() -> None:
    retention = RetentionPoints(max_points=10)
    values = np.array([[0.5, -0.5]])
    base, feature_points, points, _ = apportion(_contributions(values, 0.0), retention.points,
                                                retention.slope)
    np.testing.assert_allclose(feature_points, [[-10 * 0.25 * 0.5, 10 * 0.25 * 0.5]])
    assert points[0] == pytest.approx(base[0])


def test_the_shipped_blend_adds_up_to_one_hundred_points() -> None:
    blend = load_yaml_model(CONFIG / "blend.yaml", BlendConfig)
    card = load_yaml_model(CONFIG / "scorecard.yaml", ScorecardConfig)
    check_blend_fits_card(blend, card, "blend.yaml")
    assert blend.total == 100 and blend.scorecard_weight * card.total + 30 == 100


def test_a_blend_that_does_not_add_up_names_the_file_and_the_field(tmp_path: Path) -> None:
    text = (CONFIG / "blend.yaml").read_text(encoding="utf-8").replace(
        "scorecard_weight: 0.7", "scorecard_weight: 0.8")
    path = tmp_path / "blend.yaml"
    path.write_text(text, encoding="utf-8")
    blend = load_yaml_model(path, BlendConfig)
    card = load_yaml_model(CONFIG / "scorecard.yaml", ScorecardConfig)
    with pytest.raises(ConfigError, match=r"blend.yaml: scorecard_weight: .* make 110"):
        check_blend_fits_card(blend, card, str(path))


def test_value_anchors_in_the_wrong_order_are_refused_with_the_line(tmp_path: Path) -> None:
    text = (CONFIG / "blend.yaml").read_text(encoding="utf-8").replace(
        "full_points_at: 60000", "full_points_at: 100")
    path = tmp_path / "blend.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line \d+: value.full_points_at: .*must be above"):
        load_yaml_model(path, BlendConfig)
