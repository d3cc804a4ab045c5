"""A book we did not make: the demo's orders in thousands of yuan, transactions only (no
quantities, no interactions), like a retail book. The shipped card grades it into one grade and
the rating says so; the card fitted to it grades it as the shipped card grades the demo book."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.settings import Settings
from customer_tiering.ingest.loading import load_dataset, write_dataset
from customer_tiering.rating.runs import RatingResult, run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.rating_env import AS_OF, ROOT, TrainedEnv, train_and_crown

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rating")]
SCALE = 0.001


def shares(result: RatingResult) -> pd.Series:
    counts = pd.Series(result.record.counts, dtype=float)
    order = list(result.record.grade_labels)
    return (counts / counts.sum()).reindex(order, fill_value=0.0)


def grades_of(url: str, result: RatingResult) -> pd.DataFrame:
    store = TierStore.open(url)
    try:
        return store.grades(result.record.id, columns=["customer_id", "grade"])
    finally:
        store.close()


def retail_book(trained: TrainedEnv, base: Path) -> Path:
    orders = pd.read_parquet(trained.raw_dir / "transactions.parquet",
                             columns=["customer_id", "order_date", "amount"])
    orders["amount"] = orders["amount"] * SCALE
    orders.to_csv(base / "orders.csv", index=False)
    return write_dataset(load_dataset(base / "orders.csv", None, None, as_of=AS_OF),
                         base / "clean")


def test_a_fitted_card_grades_a_book_in_thousands_as_the_seed_card_grades_the_demo(
        trained: TrainedEnv, tmp_path: Path) -> None:
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    reference = run_periodic_rating(as_of=AS_OF, settings=trained.settings(reference_url),
                                    data_dir=trained.clean_dir)

    clean = retail_book(trained, tmp_path)
    (tmp_path / "mlflow").mkdir()

    def settings(config_dir: Path, url: str) -> Settings:
        return Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
                        data_dir=tmp_path / "work", training_config_dir=trained.training_config_dir,
                        config_dir=config_dir, database_url=url)

    shipped_url = f"sqlite:///{tmp_path / 'shipped.db'}"
    train_and_crown(settings(ROOT / "serving" / "config", shipped_url), clean)
    shipped = run_periodic_rating(as_of=AS_OF, data_dir=clean,
                                  settings=settings(ROOT / "serving" / "config", shipped_url))
    assert shares(shipped).max() > 0.8
    warning = next(c for c in shipped.record.checks or [] if c["id"] == "grade_share")
    assert not warning["passed"] and "tiering scorecard fit" in warning["fix"]["en"]

    fitted_card = tmp_path / "fitted" / "scorecard.yaml"
    fit = CliRunner().invoke(app, ["scorecard", "fit", "--data", str(clean), "--as-of",
                                   AS_OF.isoformat(), "--out", str(fitted_card)])
    assert fit.exit_code == 0, fit.output
    check = CliRunner().invoke(app, ["scorecard", "check", str(fitted_card),
                                     str(fitted_card.parent / "blend.yaml")])
    assert check.exit_code == 0, check.output

    fitted_url = f"sqlite:///{tmp_path / 'fitted.db'}"
    fitted = run_periodic_rating(as_of=AS_OF, data_dir=clean,
                                 settings=settings(fitted_card.parent, fitted_url))
    difference = (shares(fitted) - shares(reference)).abs()
    assert difference.max() <= 0.10, pd.DataFrame({"fitted": shares(fitted),
                                                   "reference": shares(reference)})
    assert next(c for c in fitted.record.checks or [] if c["id"] == "grade_share")["passed"]

    # and the grades still rank next period's revenue: it falls grade by grade
    future = pd.read_parquet(trained.raw_dir / "truth" / "future_transactions.parquet")
    window = pd.to_datetime(future["order_date"]) <= pd.Timestamp(AS_OF + timedelta(days=90))
    revenue = (future[window].groupby("customer_id")["amount"].sum() * SCALE)
    graded = grades_of(fitted_url, fitted)
    graded["next_revenue"] = graded["customer_id"].map(revenue).fillna(0.0)
    by_grade = graded.groupby("grade")["next_revenue"].agg(["mean", "size"])
    order = [g for g in fitted.record.grade_labels if g in by_grade.index
             and by_grade.loc[g, "size"] >= 20]
    means = by_grade.loc[order, "mean"].to_numpy()
    assert len(order) >= 3 and (means[:-1] > means[1:]).all(), by_grade


def test_a_rating_whose_grades_contradict_revenue_is_flagged_by_name(trained: TrainedEnv,
                                                                      tmp_path: Path) -> None:
    import shutil

    import yaml

    config = tmp_path / "config"
    shutil.copytree(ROOT / "serving" / "config", config)
    card = yaml.safe_load((config / "scorecard.yaml").read_text(encoding="utf-8"))
    sales = card["criteria"][0]
    points = [band["points"] for band in sales["scoring"]["bands"]]
    for band, reversed_points in zip(sales["scoring"]["bands"], points[::-1], strict=True):
        band["points"] = reversed_points  # the smallest buyers score the most
    (config / "scorecard.yaml").write_text(yaml.safe_dump(card, allow_unicode=True),
                                           encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = trained.settings(url).model_copy(update={"config_dir": config})
    result = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    order = next(c for c in result.record.checks or [] if c["id"] == "grade_order_revenue")
    assert not order["passed"]
    pairs = order["details"]["contradictions"]
    assert pairs and all(len(p) == 2 for p in pairs)
    labels = {g: v["en"] for g, v in result.record.grade_labels.items()}
    upper, lower = pairs[0]
    assert f"grade {labels[lower]} has higher mean revenue" in order["message"]["en"]
    assert f"than grade {labels[upper]} above it" in order["message"]["en"]
