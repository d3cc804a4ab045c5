"""Fitting the card's bands to a book: scale-free, readable, repeatable, and a valid card."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.scoring.blend import BlendConfig
from customer_tiering.scoring.card_fit import fit_card
from customer_tiering.scoring.card_yaml import blend_yaml, card_yaml
from customer_tiering.scoring.criteria import ScorecardConfig, StepScoring
from customer_tiering.scoring.scorecard import score

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "serving" / "config"
AS_OF = date(2025, 12, 31)


def shipped() -> tuple[ScorecardConfig, BlendConfig]:
    return (load_yaml_model(CONFIG / "scorecard.yaml", ScorecardConfig),
            load_yaml_model(CONFIG / "blend.yaml", BlendConfig))


def book(n: int = 4_000, seed: int = 0, amount_scale: float = 1.0, units: bool = True
         ) -> pd.DataFrame:
    """Demo-like features: units and amounts heavy-tailed, growth around zero, judgements 0-10."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(1.5, 1.6, n)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "avg_monthly_units_12m": size if units else np.nan,
        "avg_monthly_amount_12m": size * 2_500 * amount_scale,
        "monetary_amount_365d": size * 30_000 * amount_scale,
        "yoy_growth": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0.1, 0.5, n)),
        "channel_coverage": rng.integers(0, 11, n).astype(float),
        "loyalty": rng.integers(0, 11, n).astype(float),
        "prospects": rng.integers(0, 11, n).astype(float),
    })


def band_shares(card: ScorecardConfig, features: pd.DataFrame, criterion: str) -> np.ndarray:
    scores = score(features, card)
    j = [c.id for c in card.criteria].index(criterion)
    n_bands = len(card.criteria[j].scoring.bands)  # type: ignore[union-attr]
    band = scores.band[:, j]
    return np.bincount(band[band >= 0], minlength=n_bands) / (band >= 0).sum()


def test_a_book_in_another_scale_gets_the_same_share_of_customers_in_every_band() -> None:
    card, blend = shipped()
    # on a book without units the monthly sales criterion stands in with amounts: fit one book in
    # yuan and the same book in thousands of yuan
    plain = fit_card(book(units=False), card, blend, as_of=AS_OF, description="plain")
    scaled_book = book(units=False, amount_scale=0.001)
    scaled = fit_card(scaled_book, card, blend, as_of=AS_OF, description="scaled")
    for criterion in ("avg_monthly_sales", "sales_growth"):
        assert np.abs(band_shares(plain.card, book(units=False), criterion)
                      - band_shares(scaled.card, scaled_book, criterion)).max() < 0.01
    units = scaled.card.criteria[0]
    assert units.feature == "avg_monthly_amount_12m"
    assert any("fitted on avg_monthly_amount_12m" in note for note in scaled.notes)
    # the shares the seed card's edges held in the demo book are kept
    targets = card.fitted.edge_quantiles["avg_monthly_sales"]  # type: ignore[union-attr]
    shares = np.cumsum(band_shares(scaled.card, scaled_book, "avg_monthly_sales"))[:-1]
    assert np.abs(shares - targets).max() < 0.02
    assert scaled.blend.value is not None and plain.blend.value is not None
    assert scaled.blend.value.full_points_at == pytest.approx(plain.blend.value.full_points_at
                                                              / 1_000, rel=0.05)


def test_edges_are_readable_numbers_that_rise() -> None:
    card, blend = shipped()
    features = book(units=False)
    features["avg_monthly_amount_12m"] = np.where(np.arange(len(features)) < 2_000, 0.0,
                                                  features["avg_monthly_amount_12m"])  # ties
    fit = fit_card(features, card, blend, as_of=AS_OF, description="ties")
    bands = fit.card.criteria[0].scoring.bands  # type: ignore[union-attr]
    edges = [b.lower for b in bands[1:]]
    assert all(b > a for a, b in itertools.pairwise(edges))
    for edge in edges:
        assert edge is not None and float(f"{edge:.3g}") == edge  # at most 3 significant digits


def test_a_fitted_card_keeps_criteria_points_and_band_counts_and_passes_the_check(
        tmp_path: Path) -> None:
    card, blend = shipped()
    fit = fit_card(book(amount_scale=0.01), card, blend, as_of=AS_OF, description="book")
    assert [c.id for c in fit.card.criteria] == [c.id for c in card.criteria]
    assert [c.max_points for c in fit.card.criteria] == [c.max_points for c in card.criteria]
    for new, old in zip(fit.card.criteria, card.criteria, strict=True):
        assert len(getattr(new.scoring, "bands", [])) == len(getattr(old.scoring, "bands", []))
        if isinstance(old.scoring, StepScoring):
            assert [b.points for b in new.scoring.bands] == [  # type: ignore[union-attr]
                b.points for b in old.scoring.bands]
    (tmp_path / "scorecard.yaml").write_text(card_yaml(fit.card, ["fitted"]), encoding="utf-8")
    (tmp_path / "blend.yaml").write_text(blend_yaml(fit.blend, ["fitted"]), encoding="utf-8")
    result = CliRunner().invoke(app, ["scorecard", "check", str(tmp_path / "scorecard.yaml"),
                                      str(tmp_path / "blend.yaml")])
    assert result.exit_code == 0, result.output
    assert load_yaml_model(tmp_path / "scorecard.yaml", ScorecardConfig) == fit.card


def test_fitting_twice_gives_the_same_file_and_refitting_the_fitted_card_changes_nothing() -> None:
    card, blend = shipped()
    features = book(amount_scale=0.05)
    first = fit_card(features, card, blend, as_of=AS_OF, description="book")
    second = fit_card(features, card, blend, as_of=AS_OF, description="book")
    assert card_yaml(first.card, ["h"]) == card_yaml(second.card, ["h"])
    assert blend_yaml(first.blend, ["h"]) == blend_yaml(second.blend, ["h"])
    again = fit_card(features, first.card, first.blend, as_of=AS_OF, description="book")
    assert card_yaml(again.card, ["h"]) == card_yaml(first.card, ["h"])


def test_locating_keeps_the_edges_and_records_where_they_sit() -> None:
    card, blend = shipped()
    features = book()
    located = fit_card(features, card, blend, as_of=AS_OF, description="here", method="locate")
    assert [c.scoring for c in located.card.criteria] == [c.scoring for c in card.criteria]
    shares = located.card.fitted.edge_quantiles["avg_monthly_sales"]  # type: ignore[union-attr]
    x = features["avg_monthly_units_12m"].to_numpy()
    assert shares[0] == pytest.approx(np.mean(x < 1), abs=1e-4)


def test_judgements_no_customer_has_score_the_middle_provisionally() -> None:
    card, blend = shipped()
    features = book(units=False).drop(columns=["channel_coverage", "loyalty", "prospects"])
    fit = fit_card(features, card, blend, as_of=AS_OF, description="transactions only")
    loyalty = next(c for c in fit.card.criteria if c.id == "loyalty")
    assert loyalty.missing.policy == "provisional" and loyalty.missing.points == 5
    scores = score(features, fit.card)
    assert scores.provisional.all()


def test_supervised_edges_sit_where_the_churn_rate_changes() -> None:
    card, blend = shipped()
    features = book(units=True, n=6_000, seed=3)
    rng = np.random.default_rng(1)
    units = features["avg_monthly_units_12m"].to_numpy()
    churned = (rng.random(len(units)) < np.where(units < 2.0, 0.8, 0.1)).astype(int)
    fit = fit_card(features, card, blend, as_of=AS_OF, description="labelled",
                   method="supervised", churned=churned)
    edges = [b.lower for b in fit.card.criteria[0].scoring.bands[1:]]  # type: ignore[union-attr]
    assert min(abs(e - 2.0) for e in edges if e is not None) < 0.15


def test_the_cli_prints_the_proposal_beside_the_current_card_and_writes_a_config_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.rating_env import demo_clean_data

    _, clean = demo_clean_data(tmp_path / "book", customers=300, transactions_only=True)
    out = tmp_path / "fitted" / "scorecard.yaml"
    result = CliRunner().invoke(app, ["scorecard", "fit", "--data", str(clean), "--as-of",
                                      "2025-12-31", "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "proposed" in result.output and "share now" in result.output
    assert "fitted on avg_monthly_amount_12m" in result.output
    for name in ("scorecard.yaml", "blend.yaml", "grades.yaml", "policies.yaml"):
        assert (out.parent / name).exists()
    first = out.read_text(encoding="utf-8")
    assert first.startswith("# ") and "customers), features as of 2025-12-31" in first
    again = CliRunner().invoke(app, ["scorecard", "fit", "--data", str(clean), "--as-of",
                                     "2025-12-31", "--out", str(out)])
    assert again.exit_code == 0 and out.read_text(encoding="utf-8") == first
    shown = CliRunner().invoke(app, ["scorecard", "show", "--card", str(out), "--lang", "en"])
    assert "amounts in CNY (元)" in shown.output
