"""The main job on embedded defaults: demo data -> validate and load -> features -> train the
models (MLflow) -> periodic rating (tier store) -> summary.

Orchestration only (the logic lives in ``demo_data``, ``loading``, ``features``, ``train`` and
``rating``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.settings import get_settings
from customer_tiering.demo.generator import DEFAULT_END, generate_demo_data
from customer_tiering.features.compute import compute_features, write_frame
from customer_tiering.ingest.bulk_loading import load_to_directory
from customer_tiering.ingest.loading import LoadResult
from customer_tiering.scoring.ruleset import grade, load_ruleset

__all__ = ["DemoJobResult", "run_demo_job"]

Step = Callable[[str], None]


@dataclass
class DemoJobResult:
    """What the main job produced and where."""

    raw_dir: Path
    clean_dir: Path
    features_path: Path
    as_of: date
    load_results: list[LoadResult]
    features: pd.DataFrame
    graded: pd.DataFrame
    graded_path: Path
    top20_revenue_share: float
    training: list[Any] = field(default_factory=list)
    rating: Any = None


def top_share(amounts: pd.Series, customer_share: float = 0.2) -> float:
    """Share of the total held by the top ``customer_share`` of customers (the 80/20 check)."""
    values = amounts.clip(lower=0).sort_values(ascending=False).to_numpy()
    total = values.sum()
    if total <= 0:
        return 0.0
    k = max(1, round(customer_share * len(values)))
    return float(values[:k].sum() / total)


def run_demo_job(
    data_dir: Path,
    *,
    customers: int = 2_000,
    seed: int = 42,
    as_of: date = DEFAULT_END,
    max_reject_share: float = 0.01,
    step: Step | None = None,
    progress: Callable[[int, int], None] | None = None,
    settings: Any = None,
    config_dir: Path | None = None,
    process: str = "cycles",
) -> DemoJobResult:
    """Generate demo data, validate and load it, compute features as of ``as_of``; with
    ``settings``, also train the models and store a periodic rating.

    Files: ``data_dir/raw`` (generated, with ``truth/``), ``data_dir/clean`` (validated Parquet and
    rejects), ``data_dir/features.parquet``; models in ``settings.mlflow_uri``, the rating in
    ``settings.tier_store_url()``. The scorecard, grade and policy YAML files are read from
    ``config_dir``, by default the settings' ``config_dir`` (``TIERING_CONFIG_DIR``, the folder
    the rating reads). ``process`` is the demo generator's (``cycles`` or ``poisson``).
    """
    say = step or (lambda _msg: None)
    if config_dir is None:
        config_dir = (settings if settings is not None else get_settings()).config_dir
    raw, clean = data_dir / "raw", data_dir / "clean"
    say(f"generating demo data for {customers:,} customers (seed {seed}, {process} process)")
    generate_demo_data(raw, customers=customers, seed=seed, end=as_of, progress=progress,
                       process=process)
    say("validating and loading")
    load_results = load_to_directory(
        clean,
        raw / "transactions.parquet",
        raw / "customers.parquet",
        raw / "interactions.parquet",
        as_of=as_of,
        max_reject_share=max_reject_share,
    )
    say(f"computing features as of {as_of}")
    features = compute_features(
        clean / "transactions.parquet",
        clean / "customers.parquet",
        clean / "interactions.parquet",
        as_of=as_of,
    )
    path = write_frame(features, data_dir / "features.parquet")
    say("grading with the scorecard")
    graded, _ = grade(features, load_ruleset(config_dir), lang="zh")
    graded = graded.merge(features[["customer_id", "monetary_amount_365d"]], on="customer_id")
    graded_path = write_frame(graded, data_dir / "graded.csv")
    training: list[Any] = []
    rating = None
    if settings is not None:
        from customer_tiering.rating.champions import training_configs
        from customer_tiering.rating.runs import run_periodic_rating
        from customer_tiering.training.jobs import train_all

        say("training segments, churn and value models (MLflow)")
        training = train_all(training_configs(settings.training_config_dir), data_dir=clean,
                             as_of=as_of, settings=settings, step=say)
        say("rating every customer (tier store)")
        rating = run_periodic_rating(as_of=as_of, settings=settings, data_dir=clean, step=say)
    return DemoJobResult(
        raw_dir=raw,
        clean_dir=clean,
        features_path=path,
        as_of=as_of,
        load_results=load_results,
        features=features,
        graded=graded,
        graded_path=graded_path,
        top20_revenue_share=top_share(features["monetary_amount_365d"]),
        training=training,
        rating=rating,
    )
