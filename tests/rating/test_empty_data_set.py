"""A rating over nobody is refused with words, not a ZeroDivisionError from LightGBM (issue 18)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.contract import CUSTOMERS, INTERACTIONS, TRANSACTIONS
from customer_tiering.ingest.validation import empty_table
from customer_tiering.rating.runs import run_periodic_rating, run_special_rating
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


def _empty_clean_data_set(folder: Path) -> Path:
    folder.mkdir()
    for spec in (TRANSACTIONS, CUSTOMERS, INTERACTIONS):
        empty_table(spec).to_parquet(folder / f"{spec.name}.parquet", index=False)
    return folder


def test_rating_an_empty_data_set_is_a_clear_error(trained: TrainedEnv, tmp_path: Path) -> None:
    data = _empty_clean_data_set(tmp_path / "clean")
    settings = trained.settings(f"sqlite:///{tmp_path / 'tiers.db'}")
    with pytest.raises(TieringError, match="no customer has a transaction on or before"):
        run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=data)
    with pytest.raises(TieringError, match="the data set has no transactions"):
        run_special_rating(customer_id="C1", reason="test", settings=settings, data_dir=data)


def test_rating_before_the_first_transaction_is_a_clear_error(trained: TrainedEnv,
                                                              tmp_path: Path) -> None:
    settings = trained.settings(f"sqlite:///{tmp_path / 'tiers.db'}")
    with pytest.raises(TieringError, match="no customer has a transaction on or before 2000"):
        run_periodic_rating(as_of=date(2000, 1, 1), settings=settings,
                            data_dir=trained.clean_dir)


def test_tiering_rate_on_an_empty_data_set_exits_2_without_a_traceback(
        trained: TrainedEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _empty_clean_data_set(tmp_path / "clean")
    settings = trained.settings(f"sqlite:///{tmp_path / 'tiers.db'}")
    for name, value in (("MLFLOW_URI", settings.mlflow_uri),
                        ("TRAINING_CONFIG_DIR", str(settings.training_config_dir)),
                        ("CONFIG_DIR", str(settings.config_dir)),
                        ("DATA_DIR", str(settings.data_dir)),
                        ("DATABASE_URL", str(settings.database_url))):
        monkeypatch.setenv(f"TIERING_{name}", value)
    result = CliRunner().invoke(app, ["rate", "--as-of", AS_OF.isoformat(), "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "nobody to rate" in " ".join(result.output.split())
