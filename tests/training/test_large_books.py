"""Training a book larger than memory: streamed snapshots, the fit's sample, the whole holdout."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.core.errors import ConfigError
from customer_tiering.core.settings import Settings
from customer_tiering.demo.generator import generate_demo_data
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.ingest.loading import load_dataset, write_dataset
from customer_tiering.models.spec import TrainingConfig
from customer_tiering.training.fitting import (
    SNAPSHOT_BUILDER,
    planned_dates,
    supervised_snapshot_files,
    supervised_snapshots,
)
from customer_tiering.training.jobs import train_job
from customer_tiering.training.sampling import customer_labels, sample_customers

AS_OF = date(2025, 12, 31)
CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "config"
pytestmark = pytest.mark.xdist_group("train")


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("large-book")
    generate_demo_data(base / "raw", customers=1_200, seed=17)
    dataset = load_dataset(base / "raw" / "transactions.parquet", base / "raw" / "customers.parquet",
                           base / "raw" / "interactions.parquet", as_of=AS_OF)
    return write_dataset(dataset, base / "clean")


def small(job: str, **changes: object) -> TrainingConfig:
    cfg = load_yaml_model(CONFIG_DIR / f"{job}.yaml", TrainingConfig)
    params = {**cfg.params, "n_estimators": 60, "learning_rate": 0.1}
    return TrainingConfig.model_validate({**cfg.model_dump(), "params": params, **changes})


def test_streamed_snapshots_are_built_by_the_engine_train_was_given(
        clean_data: Path, tmp_path: Path) -> None:
    """`train --engine spark` sets SNAPSHOT_BUILDER: every streamed date must come from it."""
    from customer_tiering.features.compute import build_snapshots

    inputs = CleanDataSet.from_dir(clean_data)
    cfg = small("churn")
    dates = planned_dates(inputs, cfg, AS_OF)
    asked: list[list[date]] = []

    def recording_engine(*args: object, **kwargs: object) -> pd.DataFrame:
        asked.append(list(kwargs["as_of_dates"]))  # type: ignore[call-overload]
        return build_snapshots(*args, **kwargs)  # type: ignore[arg-type]

    token = SNAPSHOT_BUILDER.set(recording_engine)
    try:
        files = supervised_snapshot_files(inputs, cfg, AS_OF, tmp_path / "snaps", dates)
    finally:
        SNAPSHOT_BUILDER.reset(token)
    assert asked == [[d] for d in files.dates]


def test_streamed_snapshots_equal_the_in_memory_ones(clean_data: Path, tmp_path: Path) -> None:
    inputs = CleanDataSet.from_dir(clean_data)
    cfg = small("churn")
    dates = planned_dates(inputs, cfg, AS_OF)
    in_memory = supervised_snapshots(inputs, cfg, AS_OF, dates)
    files = supervised_snapshot_files(inputs, cfg, AS_OF, tmp_path / "snaps", dates)
    assert files.dates == [*dates.train, dates.holdout]
    assert len(list((tmp_path / "snaps").glob("snapshot-*.parquet"))) == len(files.dates)
    assert files.total_rows == len(in_memory)
    pd.testing.assert_frame_equal(files.read(), in_memory)
    # one date, some customers: the same rows as filtering the frame
    some = sorted(in_memory["customer_id"].unique())[::7]
    expected = in_memory[(in_memory["as_of"] == pd.Timestamp(dates.holdout))
                         & in_memory["customer_id"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(files.read([dates.holdout], customers=some), expected)


def test_sampling_starts_above_the_budget_and_keeps_the_label_shares(
    clean_data: Path, tmp_path: Path
) -> None:
    inputs = CleanDataSet.from_dir(clean_data)
    cfg = small("churn")
    dates = planned_dates(inputs, cfg, AS_OF)
    files = supervised_snapshot_files(inputs, cfg, AS_OF, tmp_path / "snaps", dates)
    labels = customer_labels(files, dates.train, dates.holdout, "churned")
    assert int(labels["rows"].sum()) == files.total_rows
    assert sample_customers(labels, files.total_rows, "churned", seed=1) is None
    budget = files.total_rows // 3
    sample = sample_customers(labels, budget, "churned", seed=1)
    assert sample is not None
    assert sample.fraction == pytest.approx(budget / files.total_rows)
    learnt = files.read(customers=sample.customers)
    assert abs(len(learnt) - budget) < 0.1 * budget
    everything = files.read(dates.train)
    train = files.read(dates.train, customers=sample.customers)
    assert train["churned"].mean() == pytest.approx(everything["churned"].mean(), abs=0.02)
    for name, (count, chosen) in sample.strata.items():
        assert chosen == round(sample.fraction * count), name
    assert sample_customers(labels, budget, "churned", seed=1).customers.tolist() == (
        sample.customers.tolist())
    # value: zero vs positive amounts keep their shares too
    values = customer_labels(files, dates.train, dates.holdout, "future_amount")
    by_value = sample_customers(values, budget, "future_amount", seed=1)
    assert by_value is not None and "zero or below" in by_value.strata
    kept = files.read(dates.train, customers=by_value.customers)
    assert (kept["future_amount"] > 0).mean() == pytest.approx(
        (everything["future_amount"] > 0).mean(), abs=0.02)


def test_label_blocks_hold_the_rows_and_labels_of_the_whole_snapshots(
        clean_data: Path, tmp_path: Path) -> None:
    from customer_tiering.training.snapshot_files import label_block

    inputs = CleanDataSet.from_dir(clean_data)
    cfg = small("churn")
    dates = planned_dates(inputs, cfg, AS_OF)
    whole = supervised_snapshots(inputs, cfg, AS_OF, dates)
    for day in (dates.train[0], dates.holdout):
        block = label_block(inputs, day, cfg.data.horizon_days)
        full = whole[whole["as_of"] == pd.Timestamp(day)]
        kept = block[block["days_since_last_order"] <= cfg.data.active_within_days]
        columns = ["customer_id", "as_of", "days_since_last_order", "churned", "future_amount"]
        pd.testing.assert_frame_equal(kept.reset_index(drop=True),
                                      full[columns].reset_index(drop=True))


def test_training_dates_are_built_for_the_sampled_customers_only(
        clean_data: Path, tmp_path: Path) -> None:
    from customer_tiering.training.snapshot_files import duckdb_block

    inputs = CleanDataSet.from_dir(clean_data)
    churn, value = small("churn"), small("value")
    dates = planned_dates(inputs, churn, AS_OF)
    whole = supervised_snapshot_files(inputs, churn, AS_OF, tmp_path / "whole", dates,
                                      build=duckdb_block)  # no planning: every customer
    assert whole.samples is None
    budget = whole.total_rows // 4
    churn, value = small("churn", max_fit_rows=budget), small("value", max_fit_rows=budget)
    files = supervised_snapshot_files(inputs, churn, AS_OF, tmp_path / "sampled", dates,
                                      sample_for=[value])
    assert files.samples is not None and set(files.samples) == {"churned", "future_amount"}
    union: set[str] = set()
    for label, cfg in (("churned", churn), ("future_amount", value)):
        expected = sample_customers(customer_labels(whole, dates.train, dates.holdout, label),
                                    budget, label, cfg.seed)
        drawn = files.samples[label]
        assert expected is not None and drawn is not None
        assert drawn.customers.tolist() == expected.customers.tolist()  # the fit's own draw
        assert drawn.table_rows == whole.total_rows and drawn.strata == expected.strata
        union |= set(drawn.customers)
    trained = files.read(dates.train)
    assert set(trained["customer_id"]) == union & set(whole.read(dates.train)["customer_id"])
    pd.testing.assert_frame_equal(trained, whole.read(dates.train, customers=sorted(union)))
    pd.testing.assert_frame_equal(files.read([dates.holdout]), whole.read([dates.holdout]))
    assert files.total_rows < 0.7 * whole.total_rows


def test_rfm_snapshots_equal_the_whole_snapshots_on_their_columns(clean_data: Path) -> None:
    from customer_tiering.features.compute import build_rfm_snapshots, build_snapshots
    from customer_tiering.features.definitions import RFM_FEATURES

    inputs = CleanDataSet.from_dir(clean_data)
    days = [date(2025, 6, 30), AS_OF]
    rfm = build_rfm_snapshots(inputs.transactions, inputs.customers, as_of_dates=days)
    whole = build_snapshots(inputs.transactions, inputs.customers, inputs.interactions,
                            as_of_dates=days, with_labels=False)
    assert list(rfm.columns) == ["customer_id", "as_of", *RFM_FEATURES]
    pd.testing.assert_frame_equal(rfm, whole[list(rfm.columns)], check_exact=False, rtol=1e-12)


def test_a_job_over_its_budget_records_the_sample_and_scores_the_whole_holdout(
    clean_data: Path, mlflow_settings: Settings
) -> None:
    inputs = CleanDataSet.from_dir(clean_data)
    whole = supervised_snapshots(inputs, small("value"), AS_OF)
    budget = len(whole) // 2
    result = train_job("value", small("value", max_fit_rows=budget), data_dir=clean_data,
                       as_of=AS_OF, settings=mlflow_settings)
    client = MlflowClient(tracking_uri=mlflow_settings.mlflow_uri,
                          registry_uri=mlflow_settings.mlflow_uri)
    run = client.get_run(result.run_id)
    params, tags = run.data.params, run.data.tags
    assert params["fit_sample.budget_rows"] == str(budget)
    assert params["fit_sample.table_rows"] == str(len(whole))
    assert 0.4 < float(params["fit_sample.fraction"]) < 0.6
    assert int(params["fit_sample.customers"]) < whole["customer_id"].nunique()
    assert tags["fit_sample"] == "stratified by label"
    holdout = whole[whole["as_of"] == whole["as_of"].max()]
    assert params["holdout_customers"] == str(len(holdout))  # the gate saw every customer
    card = Path(client.download_artifacts(result.run_id, "model_card.md")).read_text("utf-8")
    assert "fit on a sample" in card and f"max_fit_rows {budget:,}" in card
    described = client.get_model_version("tiering-value", result.version).description
    assert "**Sample.** Fit on a sample" in described
    assert "the holdout was scored whole" in described


def test_a_job_under_its_budget_learns_every_customer(
    clean_data: Path, mlflow_settings: Settings
) -> None:
    result = train_job("churn", small("churn", max_fit_rows=10_000_000), data_dir=clean_data,
                       as_of=AS_OF, settings=mlflow_settings)
    run = MlflowClient(tracking_uri=mlflow_settings.mlflow_uri).get_run(result.run_id)
    assert run.data.params["fit_sample.fraction"] == "1.0"
    assert run.data.tags["fit_sample"] == "none: every customer learnt"
    assert run.data.tags["dataset_fingerprint"].startswith("files-v1:")


def test_the_fit_budget_is_validated_on_load(tmp_path: Path) -> None:
    for job, value, message in (("churn", 10, "greater than or equal to 1000"),
                                ("segments", 100_000, "segments fit on one snapshot")):
        text = (CONFIG_DIR / f"{job}.yaml").read_text(encoding="utf-8")
        text = "\n".join(line for line in text.splitlines() if not line.startswith("max_fit_rows"))
        path = tmp_path / f"{job}.yaml"
        path.write_text(text + f"\nmax_fit_rows: {value}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_yaml_model(path, TrainingConfig)
        assert err.value.field == "max_fit_rows" and message in str(err.value)
    for job in ("churn", "value"):
        assert load_yaml_model(CONFIG_DIR / f"{job}.yaml", TrainingConfig).max_fit_rows == 1_500_000
