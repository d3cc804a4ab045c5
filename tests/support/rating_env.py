"""A trained environment for rating tests: demo data, small training configs, a real MLflow store.

Built once per test worker (session fixture ``trained`` in conftest): training is the slow part,
and rating tests only read the models. Each test then gets its own tier store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.core.settings import Settings
from customer_tiering.demo.generator import generate_demo_data
from customer_tiering.ingest.loading import load_dataset, write_dataset
from customer_tiering.models.spec import TrainingConfig

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2025, 12, 31)


@dataclass(frozen=True)
class TrainedEnv:
    """Where the data and models are; ``settings(url)`` adds a tier store."""

    clean_dir: Path
    raw_dir: Path
    mlflow_uri: str
    training_config_dir: Path
    data_dir: Path

    def settings(self, database_url: str | None = None) -> Settings:
        return Settings(mlflow_uri=self.mlflow_uri, data_dir=self.data_dir,
                        training_config_dir=self.training_config_dir,
                        config_dir=ROOT / "serving" / "config", database_url=database_url)


def write_small_training_configs(target: Path, horizon_days: int | None = None) -> Path:
    """The shipped training configs with fewer, faster trees (same features and plans)."""
    target.mkdir(parents=True, exist_ok=True)
    for job in ("segments", "churn", "value"):
        cfg = load_yaml_model(ROOT / "training" / "config" / f"{job}.yaml", TrainingConfig)
        data = cfg.model_dump(mode="json")
        if job == "segments":
            data["params"].update(n_clusters=4, n_init=3)
        else:
            data["params"].update(n_estimators=60, learning_rate=0.15)
            if horizon_days is not None:
                data["data"]["horizon_days"] = horizon_days
        (target / f"{job}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                            encoding="utf-8")
    return target


def demo_clean_data(base: Path, customers: int = 1_200, seed: int = 11,
                    transactions_only: bool = False) -> tuple[Path, Path]:
    """Generate demo data under ``base/raw`` and load it into ``base/clean``."""
    raw = base / "raw"
    generate_demo_data(raw, customers=customers, seed=seed)
    transactions = raw / "transactions.parquet"
    if transactions_only:
        # The minimal file of the data contract: three columns, as a CSV export would have them.
        import pandas as pd

        minimal = pd.read_parquet(transactions, columns=["customer_id", "order_date", "amount"])
        transactions = base / "orders.csv"
        minimal.to_csv(transactions, index=False)
    dataset = load_dataset(transactions,
                           None if transactions_only else raw / "customers.parquet",
                           None if transactions_only else raw / "interactions.parquet",
                           as_of=AS_OF)
    return raw, write_dataset(dataset, base / "clean")


def train_and_crown(settings: Settings, clean: Path, horizon_days: int | None = None) -> None:
    """Train all three jobs; a version the gate left as challenger is promoted by hand.

    On a thousand customers a model may not beat BG/NBD by the margin; the rating tests are
    about rating, so they promote it the way a person would (``tiering promote``), with a reason.
    """
    from customer_tiering.rating.champions import training_configs
    from customer_tiering.registry.tracking import use_store
    from customer_tiering.registry.versions import promote
    from customer_tiering.training.jobs import train_all

    results = train_all(training_configs(settings.training_config_dir, horizon_days),
                        data_dir=clean, as_of=AS_OF, settings=settings)
    with use_store(settings) as client:
        for result in results:
            if result.alias != "champion":
                promote(client, result.model_name, result.version,
                        reason="test fixture: small data")


def build(base: Path) -> TrainedEnv:
    raw, clean = demo_clean_data(base / "data")
    cfg_dir = write_small_training_configs(base / "training-config")
    (base / "mlflow").mkdir()
    env = TrainedEnv(clean, raw, f"sqlite:///{base / 'mlflow' / 'mlflow.db'}", cfg_dir,
                     base / "work")
    train_and_crown(env.settings(), clean)
    return env
