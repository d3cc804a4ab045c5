"""Run reports: metric names and the side-by-side table (the pure parts)."""

from __future__ import annotations

import numpy as np
import pytest

from customer_tiering.core.errors import TieringError
from customer_tiering.training.run_reports import markdown_table, metric_key, metrics_table


def test_metric_key_convention_and_bad_names() -> None:
    assert metric_key("roc_auc", "model") == "holdout_roc_auc.model"
    later = metric_key("top20_capture", "rfm-score", split="later")
    assert later == "later_top20_capture.rfm-score"
    with pytest.raises(TieringError, match="'roc auc'"):
        metric_key("roc auc", "model")


def test_metrics_table_puts_model_beside_baselines() -> None:
    table = metrics_table(
        {"roc_auc": 0.8123, "brier": 0.15},
        {"rule": {"roc_auc": 0.7}, "rfm": {"roc_auc": 0.75, "brier": 0.2}},
    )
    assert list(table.columns) == ["model", "rule", "rfm"]
    assert list(table.index) == ["roc_auc", "brier"]
    assert np.isnan(table.loc["brier", "rule"])
    assert markdown_table(table, digits=2) == (
        "| metric | model | rule | rfm |\n"
        "|---|---|---|---|\n"
        "| roc_auc | 0.81 | 0.70 | 0.75 |\n"
        "| brier | 0.15 | – | 0.20 |\n"
    )
