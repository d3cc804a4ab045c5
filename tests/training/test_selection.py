"""What serves after the gate: the best scorer on the holdout, and a fallback so something does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_tiering.training.selection import (
    CANDIDATE,
    CHAMPION_ROW,
    ServingChoice,
    choose_scorer,
    fit_serving_baseline,
)
from tests.support.synthetic import make_snapshots

SERVABLE = ("bgnbd", "rfm_score", "days_since_last_order")


def rows(**auc: float) -> dict[str, dict[str, float]]:
    return {name: {"roc_auc": value, "pr_auc": 0.1} for name, value in auc.items()}


def choose(table: dict[str, dict[str, float]], passed: bool = False, margin: float = 0.005
           ) -> ServingChoice:
    return choose_scorer(table, gate_passed=passed, metric="roc_auc", higher_is_better=True,
                         margin=margin, servable=SERVABLE)


def test_a_candidate_that_passed_the_gate_serves() -> None:
    assert choose(rows(model=0.9, champion=0.8, bgnbd=0.7), passed=True).serves == CANDIDATE


def test_without_a_champion_the_best_scorer_serves_even_below_the_margin() -> None:
    assert choose(rows(model=0.802, bgnbd=0.800)).serves == CANDIDATE
    chosen = choose(rows(model=0.744, bgnbd=0.760, rfm_score=0.745))
    assert chosen.serves == "bgnbd" and chosen.is_baseline
    assert chosen.reasons[0].startswith("best on the holdout roc_auc: bgnbd 0.7600")


def test_a_champion_keeps_serving_unless_beaten_by_the_margin() -> None:
    assert choose(rows(model=0.803, champion=0.800, bgnbd=0.7)).serves == CHAMPION_ROW
    assert choose(rows(model=0.7, champion=0.800, bgnbd=0.810)).serves == "bgnbd"
    assert choose(rows(model=0.7, champion=0.800, bgnbd=0.803)).serves == CHAMPION_ROW


def test_a_baseline_that_cannot_serve_is_only_compared() -> None:
    table = rows(model=0.70, bgnbd=0.72)
    table["oracle"] = {"roc_auc": 0.99}
    assert choose(table).serves == "bgnbd"


def test_ties_go_to_the_champion_then_the_candidate() -> None:
    assert choose(rows(model=0.8, champion=0.8, bgnbd=0.8)).serves == CHAMPION_ROW
    assert choose(rows(model=0.8, bgnbd=0.8)).serves == CANDIDATE


def test_a_loss_metric_prefers_the_lowest() -> None:
    table = {"model": {"brier": 0.07}, "bgnbd": {"brier": 0.06}}
    chosen = choose_scorer(table, gate_passed=False, metric="brier", higher_is_better=False,
                           margin=0.0, servable=SERVABLE)
    assert chosen.serves == "bgnbd"


def test_a_baseline_that_cannot_be_fitted_leaves_the_candidate_or_the_champion_serving() -> None:
    snaps = make_snapshots(n_customers=300, n_snapshots=2, seed=2)
    snaps[["repeat_purchase_days", "days_first_to_last_purchase",
           "days_since_first_purchase"]] = np.nan  # nobody has a purchase BG/NBD could read
    chosen = ServingChoice("bgnbd", ("best on the holdout roc_auc: bgnbd",))
    scorer, fallback = fit_serving_baseline("churn", chosen, snaps, "churned", 90,
                                            has_champion=False)
    assert scorer is None and fallback.serves == CANDIDATE
    assert "could not be fitted to serve" in fallback.reasons[-1]
    _, kept = fit_serving_baseline("churn", chosen, snaps, "churned", 90, has_champion=True)
    assert kept.serves == CHAMPION_ROW
    scorer, same = fit_serving_baseline("churn", ServingChoice("rfm_score", ()), snaps,
                                        "churned", 90, has_champion=False)
    assert scorer is not None and same.serves == "rfm_score"
    assert isinstance(scorer.predict_proba(snaps.head(3)), np.ndarray)


def test_nothing_to_choose_from_is_an_error() -> None:
    with pytest.raises(Exception, match="nothing can serve"):
        choose(pd.DataFrame().to_dict())
