"""Short histories: a book with less history than the plan trains with the plan it can afford,
and below the minimum fails with one message naming the shortfall."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.demo.generator import generate_demo_data
from customer_tiering.ingest.loading import load_dataset, write_dataset
from customer_tiering.models.modeling import customer_split
from customer_tiering.models.spec import MIN_STEP_DAYS, SnapshotPlan, affordable_dates, plan_dates
from customer_tiering.rating.champions import training_configs
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.registry.tracking import use_store
from customer_tiering.training.jobs import train_all
from tests.support.book_shapes import short_cohort_transactions, write_csv
from tests.support.rating_env import ROOT, write_small_training_configs

AS_OF = date(2025, 12, 31)
PLAN = SnapshotPlan(snapshots=8, step_days=30, horizon_days=90)


def test_a_long_book_keeps_the_configured_plan() -> None:
    planned = affordable_dates(AS_OF, PLAN, date(2022, 1, 1))
    assert (planned.train, planned.holdout) == plan_dates(AS_OF, PLAN)
    assert planned.note is None


def test_a_short_book_gets_fewer_or_closer_snapshots_and_a_note() -> None:
    first = date(2025, 3, 1)  # 305 days of history
    planned = affordable_dates(AS_OF, PLAN, first)
    assert planned.holdout == date(2025, 10, 2)
    assert planned.train[-1] == date(2025, 7, 4)
    assert all(d >= date(2025, 3, 31) for d in planned.train)
    assert len(planned.train) >= 3
    gaps = {(b - a).days for a, b in zip(planned.train, planned.train[1:], strict=False)}
    assert len(gaps) == 1 and gaps.pop() >= MIN_STEP_DAYS
    assert planned.note is not None and "reduced plan" in planned.note and "2025-03-01" in planned.note


def test_below_the_minimum_one_message_names_the_shortfall() -> None:
    with pytest.raises(TieringError) as info:
        affordable_dates(AS_OF, PLAN, date(2025, 7, 1))
    message = str(info.value)
    assert "2025-07-01" in message and "minimum is 210 days" in message
    assert "Short by 27 days" in message


def test_customer_split_never_trains_on_a_validation_customer() -> None:
    ids = np.repeat([f"C{i}" for i in range(500)], 3)
    dates = np.tile(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]), 500)
    train, valid = customer_split(ids, dates, share=0.2, seed=1)
    assert set(ids[train]).isdisjoint(ids[valid])
    assert (pd.to_datetime(dates[valid]) == pd.Timestamp("2025-03-01")).all()
    assert 0.12 < len(set(ids[valid])) / 500 < 0.28
    again, _ = customer_split(ids[::-1], dates[::-1], share=0.2, seed=1)
    assert set(ids[::-1][again]) == set(ids[train])  # by id, not by row order


@pytest.mark.slow
def test_a_nine_month_cohort_book_trains_with_a_reduced_plan_and_rates(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate_demo_data(raw, customers=900, seed=3)
    tx = short_cohort_transactions(pd.read_parquet(raw / "transactions.parquet"), months=9,
                                   amount_scale=0.001)
    dataset = load_dataset(write_csv(tx, tmp_path / "orders.csv"), None, None, as_of=AS_OF)
    clean = write_dataset(dataset, tmp_path / "clean")
    settings = Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                        data_dir=tmp_path / "work",
                        training_config_dir=write_small_training_configs(tmp_path / "cfg"),
                        config_dir=ROOT / "serving" / "config",
                        database_url=f"sqlite:///{tmp_path / 'tiers.db'}")
    said: list[str] = []
    results = train_all(training_configs(settings.training_config_dir), data_dir=clean,
                        as_of=AS_OF, settings=settings, step=said.append)
    assert any("reduced plan" in line for line in said)
    with use_store(settings) as client:
        for result in results:
            if result.job == "segments":
                continue
            run = client.get_run(result.run_id)
            assert "reduced plan" in run.data.tags["plan.reduced"]
            card = client.download_artifacts(result.run_id, "model_card.md")
            text = Path(card).read_text("utf-8")
            assert "reduced plan" in text and "held-out fifth of the customers" in text
            assert client.get_model_version_by_alias(result.model_name, "champion")
    rating = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=clean)
    assert rating.record.customer_count > 300


def test_a_book_shorter_than_the_minimum_fails_with_one_message(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate_demo_data(raw, customers=200, seed=3)
    tx = short_cohort_transactions(pd.read_parquet(raw / "transactions.parquet"), months=6)
    clean = write_dataset(load_dataset(write_csv(tx, tmp_path / "o.csv"), None, None,
                                       as_of=AS_OF), tmp_path / "clean")
    settings = Settings(mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                        training_config_dir=write_small_training_configs(tmp_path / "cfg"))
    configs = training_configs(settings.training_config_dir)
    with pytest.raises(TieringError, match="history is too short to train"):
        train_all({"churn": configs["churn"]}, data_dir=clean, as_of=AS_OF, settings=settings)
