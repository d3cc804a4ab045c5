from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.ingest.contract import FEATURE_COLUMNS, LABEL_COLUMNS

runner = CliRunner()


@pytest.mark.slow
@pytest.mark.xdist_group("rating")
def test_the_main_job_trains_rates_and_says_where_to_look(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_MLFLOW_URI", f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}")
    monkeypatch.setenv("TIERING_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "models").mkdir()
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "data" / "demo"),
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    out = result.output
    for name in ("tiering-segments", "tiering-churn", "tiering-value"):
        assert f"model {name} version 1: champion" in out
    assert "rating 1: periodic, as of 2025-12-31, 5,000" in out
    assert "VIP" in out and "revenue share" in out and "tiering export --rating 1" in out
    assert "/#/experiments/1/runs?workflowType=machine_learning" in out  # the MLflow runs table
    for check in ("grade share", "revenue order", "churn order", "policy-only points"):
        # the checks by name, not by id (issue 19)
        assert check in out
    assert "warning" not in out.split("checks", 1)[1].split("top 20%", 1)[0]
    from customer_tiering.store.tier_store import TierStore

    store = TierStore.open(f"sqlite:///{tmp_path / 'data' / 'tiering.db'}")
    assert [c["passed"] for c in store.rating(1).checks or []] == [True] * 4
    shares = store.grade_shares(1)
    assert shares["customers"].sum() == 5_000
    store.close()


def test_demo_job_runs_end_to_end_and_prints_the_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--customers",
                                 "300", "--seed", "3", "--no-train-and-rate"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "read" in out and "= loaded" in out and "rejected 0" in out
    # the summary in the CLI's language: Chinese unless told otherwise, features and types by name
    assert "前 20% 的客户贡献" in out and "合作天数" in out and "医院" in out
    assert "tenure_days" not in out and "hospital" not in out
    english = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo-en"), "--customers",
                                  "300", "--seed", "3", "--no-train-and-rate"],
                            env={"TIERING_LANG": "en"})
    assert english.exit_code == 0, english.output
    assert "top 20% of customers hold" in english.output and "Days of cooperation" in english.output
    assert "前 20%" not in english.output
    graded = pd.read_csv(tmp_path / "demo" / "graded.csv", encoding="utf-8-sig")
    assert len(graded) == 300
    assert set(graded["grade"]) <= {"VIP", "core", "effective", "dormant", "potential"}
    points = graded.filter(like="points_").sum(axis=1)
    assert (points - graded["total"]).abs().max() < 1e-9
    features = pd.read_parquet(tmp_path / "demo" / "features.parquet")
    assert len(features) == 300
    assert list(features.columns) == ["customer_id", "as_of", *FEATURE_COLUMNS]
    clean_tx = pd.read_parquet(tmp_path / "demo" / "clean" / "transactions.parquet")
    raw_tx = pd.read_parquet(tmp_path / "demo" / "raw" / "transactions.parquet")
    assert len(clean_tx) == len(raw_tx)  # nothing lost on the way


def test_features_command_writes_labels_for_the_given_horizon(tmp_path: Path) -> None:
    data = tmp_path / "raw"
    assert runner.invoke(app, ["demo-data", "--customers", "200", "--out", str(data)]).exit_code == 0
    out = tmp_path / "f.csv"
    result = runner.invoke(app, ["features", "--as-of", "2025-09-30", "--data", str(data),
                                 "--out", str(out), "--labels", "--horizon-days", "30"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert set(LABEL_COLUMNS) <= set(frame.columns)
    assert frame["churned"].isin([0, 1]).all()


def test_bad_option_values_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--as-of", "31/12/2025", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "--as-of: '31/12/2025' is not a date written YYYY-MM-DD" in result.output
    missing = runner.invoke(app, ["features", "--as-of", "2025-12-31", "--data", str(tmp_path)])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert "Traceback" not in missing.output


def test_the_installed_console_script_runs_as_a_user_would(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("tiering")
    proc = subprocess.run(
        [str(script), "validate", str(tmp_path / "missing.csv")],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 2
    assert "missing.csv: does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
