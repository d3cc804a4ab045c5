"""The commands sales ops run: rate, ratings, export; with only a transactions file and a horizon
given on the command line."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.i18n.catalogue import text
from customer_tiering.store.tier_store import TierStore
from tests.support.rating_env import (
    AS_OF,
    ROOT,
    demo_clean_data,
    train_and_crown,
    write_small_training_configs,
)

pytestmark = pytest.mark.xdist_group("rating")


def test_with_only_transactions_the_export_carries_model_scores_for_the_given_horizon(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from customer_tiering.core.settings import Settings

    _, clean = demo_clean_data(tmp_path / "data", customers=800, seed=3, transactions_only=True)
    import pandas as pd

    with (tmp_path / "data" / "orders.csv").open(encoding="utf-8") as handle:
        assert handle.readline().strip() == "customer_id,order_date,amount"
    derived = pd.read_parquet(clean / "customers.parquet")  # ids only, derived from transactions
    assert derived.drop(columns=["customer_id"]).isna().all().all()
    cfg_dir = write_small_training_configs(tmp_path / "training-config")
    env = {"TIERING_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "TIERING_TRAINING_CONFIG_DIR": str(cfg_dir),
           "TIERING_CONFIG_DIR": str(ROOT / "serving" / "config"),
           "TIERING_DATA_DIR": str(tmp_path / "work")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    train_and_crown(Settings(), clean, horizon_days=60)
    runner = CliRunner()
    rated = runner.invoke(app, ["rate", "--as-of", AS_OF.isoformat(), "--data", str(clean),
                                "--horizon-days", "60", "--lang", "en"])
    assert rated.exit_code == 0, rated.output
    assert "rating 1" in rated.output
    again = runner.invoke(app, ["rate", "--as-of", AS_OF.isoformat(), "--data", str(clean),
                                "--horizon-days", "60"])  # Chinese unless told otherwise
    assert again.exit_code == 0, again.output
    assert text("rate_already_stored", "zh", rating=1) in again.output
    assert text("rate_next", "zh", store=Settings().tier_store_url(), rating=1) in again.output
    refused = runner.invoke(app, ["rate", "--as-of", AS_OF.isoformat(), "--data", str(clean)])
    assert refused.exit_code == 2 and "config hash" in refused.output  # trained for 60 days
    out = tmp_path / "export.csv"
    exported = runner.invoke(app, ["export", "--rating", "1", "--format", "csv", "--lang", "en",
                                   "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(derived)
    assert all(0 <= float(r["Churn probability"]) <= 1 for r in rows)
    assert all(float(r["Expected value, next period"]) >= 0 for r in rows)
    assert all(r["Provisional (inputs missing)"] == "yes" for r in rows)  # no rep judgements
    store = TierStore.open(Settings().tier_store_url())
    assert store.rating(1).horizon_days == 60
    store.close()
    shown = runner.invoke(app, ["ratings", "show", "1", "--lang", "en"])
    assert shown.exit_code == 0 and "revenue share" in shown.output
    wide = {"COLUMNS": "200"}  # the scheme's name takes room: one line a row
    listed = runner.invoke(app, ["ratings", "list", "--lang", "en"], env=wide)
    assert listed.exit_code == 0 and "periodic" in listed.output
    listed = runner.invoke(app, ["ratings", "list"], env=wide)  # Chinese unless told otherwise
    assert listed.exit_code == 0 and "定期评级" in listed.output


def test_a_special_rating_without_a_reason_is_refused_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rate", "--customer", "C1", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "--reason is required" in result.output


def test_exporting_from_an_empty_store_says_what_to_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["export", "--format", "csv"])
    assert result.exit_code == 2 and "tiering rate --as-of" in result.output


def test_the_rate_commands_drift_line_reads_in_the_clis_language() -> None:
    from customer_tiering.cli.ratings import drift_line

    entries = [{"column": "tenure_days", "psi": 8.1, "change": None, "warning": True},
               {"column": "yoy_growth", "psi": 0.01, "change": None, "warning": False},
               {"column": "last_survey_score", "psi": 0.0, "change": "known -> unknown",
                "warning": True}]
    zh, en = drift_line(entries, "zh"), drift_line(entries, "en")
    assert zh.startswith("数据漂移：3 个字段中有 1 个 PSI 高于 0.2（") and "8.10" in zh
    assert en.startswith("drift: 1 of 3 columns above PSI 0.2 (") and "8.10" in en
    assert "was known, now missing" in en
    # no column code, and no word of the other language
    assert "_" not in zh + en
    assert not [w for w in re.findall(r"[A-Za-z]+", zh) if w != "PSI"], zh
    assert not re.search(r"[\u4e00-\u9fff]", en), en
