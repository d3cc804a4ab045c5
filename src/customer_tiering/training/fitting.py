"""Fitting a job's model and measuring it on the holdout beside the baselines and the champion.

The time layout (training snapshots, the estimator's validation window and the later, untouched
holdout) is :func:`customer_tiering.models.spec.plan_dates`. The current champion is re-scored on
the candidate's holdout, so the gate compares numbers measured on the same customers and window.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.errors import TieringError
from customer_tiering.core.stopwatch import Stopwatch
from customer_tiering.features.compute import build_snapshots
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.models.evaluation import compare
from customer_tiering.models.spec import (
    PlannedDates,
    TrainingConfig,
    affordable_dates,
    make_estimator,
)
from customer_tiering.registry.names import MODEL_NAME
from customer_tiering.training.snapshot_files import (
    BlockBuilder,
    SnapshotFiles,
    duckdb_block,
    label_block,
    write_snapshots,
)

__all__ = ["Stopwatch", "first_purchase_day", "fit_segments", "fit_supervised", "planned_dates",
           "supervised_snapshot_files", "supervised_snapshots"]

Step = Callable[[str], None]
# Another engine's build_snapshots (same signature), set by `tiering train --engine spark`; the
# snapshots are then computed by that engine and the models still fitted here.
SNAPSHOT_BUILDER: ContextVar[Callable[..., pd.DataFrame] | None] = ContextVar(
    "snapshot_builder", default=None)



def _snapshots(inputs: CleanDataSet, dates: list[date], horizon: int, labels: bool
               ) -> pd.DataFrame:
    build = SNAPSHOT_BUILDER.get() or build_snapshots  # Spark's with `train --engine spark`
    return build(inputs.transactions, inputs.customers, inputs.interactions,
                 as_of_dates=dates, horizon_days=horizon, with_labels=labels)


def _segment_snapshots(cfg: TrainingConfig, inputs: CleanDataSet, dates: list[date]
                       ) -> pd.DataFrame:
    """The segments' snapshots: the RFM features alone when the segmenter reads no other column
    (a third of the full statement's time on the 1M-customer book), else every feature."""
    from customer_tiering.features.compute import build_rfm_snapshots
    from customer_tiering.features.definitions import RFM_FEATURES

    segmenter = make_estimator("segments", cfg.params, seed=cfg.seed)
    reads = {*segmenter.features, segmenter.value_feature}
    if SNAPSHOT_BUILDER.get() is not None or not reads <= set(RFM_FEATURES):
        return _snapshots(inputs, dates, cfg.data.horizon_days, False)
    return build_rfm_snapshots(inputs.transactions, inputs.customers, as_of_dates=dates)


def _population(frame: pd.DataFrame, active_within_days: int | None) -> pd.DataFrame:
    if active_within_days is None:
        return frame
    return frame[frame["days_since_last_order"] <= active_within_days].reset_index(drop=True)


def _rescore_champion(name: str, settings: Any, frame: pd.DataFrame, job: str, holdout: date,
                      metric: str) -> tuple[np.ndarray | None, dict[str, float] | None,
                                            str | None, str | None]:
    """The current champion's scores on this holdout: ``(scores, fixed row, version, note)``.

    A champion that learnt this holdout window (a serving refit of an earlier run at the same
    date) would be flattered by re-scoring it there; its own run's number on the same holdout is
    used instead when it recorded one, else it is left out of the comparison (``note`` says so).
    """
    from customer_tiering.registry.loading import load_version
    from customer_tiering.registry.tracking import use_store
    from customer_tiering.registry.versions import NoChampionError

    try:
        champion = load_version(name, settings=settings)
    except NoChampionError:
        return None, None, None, None
    learnt = getattr(champion.model, "training_dates_", None)
    if learnt is not None and len(learnt) and pd.Timestamp(max(learnt)) >= pd.Timestamp(holdout):
        with use_store(settings) as client:
            tags = client.get_model_version(name, champion.version).tags
        recorded = tags.get(f"served.{metric}")
        if tags.get("gate.holdout_as_of") == str(holdout) and recorded is not None:
            return None, {metric: float(recorded)}, champion.version, (
                f"champion version {champion.version} learnt this holdout; compared with the "
                f"{metric} its own run measured on it")
        return None, None, champion.version, (
            f"champion version {champion.version} learnt this holdout window and has no "
            f"{metric} measured on it; left out of the comparison")
    try:
        if job == "churn":
            scores = _in_blocks(lambda f: np.asarray(champion.model.predict_proba(f))[:, 1],
                                frame)
        else:
            scores = _in_blocks(lambda f: np.asarray(champion.model.predict(f), dtype=float),
                                frame)
    except (TieringError, KeyError, ValueError) as exc:
        raise TieringError(f"champion {name} version {champion.version} cannot score this data "
                           f"({exc}); retrain with its features or roll back") from None
    return scores, None, champion.version, None


def first_purchase_day(inputs: CleanDataSet, as_of: date) -> date | None:
    """The book's first day with a positive order line on or before ``as_of`` (None: none)."""
    import duckdb

    with duckdb.connect() as con:
        row = con.execute("SELECT MIN(CAST(order_date AS DATE)) FROM read_parquet(?) "
                          "WHERE amount > 0 AND CAST(order_date AS DATE) <= ?",
                          [str(inputs.transactions), as_of]).fetchone()
    return None if row is None or row[0] is None else row[0]


def planned_dates(inputs: CleanDataSet, cfg: TrainingConfig, as_of: date) -> PlannedDates:
    """The config's snapshot dates, reduced to what the book's history affords."""
    return affordable_dates(as_of, cfg.data, first_purchase_day(inputs, as_of))


def supervised_snapshots(inputs: CleanDataSet, cfg: TrainingConfig, as_of: date,
                         dates: PlannedDates | None = None) -> pd.DataFrame:
    """The training and holdout snapshots (with labels) of a churn or value config, in memory.

    For a small book or a benchmark; training streams them to files instead
    (:func:`supervised_snapshot_files`), whose rows are the same.

    Parameters
    ----------
    inputs : the clean data set.
    cfg : a churn or value config (its snapshot plan, reduced to what the book affords).
    as_of : the newest date with data; the holdout's labels end there.
    dates : the planned dates when already known (:func:`planned_dates`).

    Returns
    -------
    pandas.DataFrame
        Features and labels of every snapshot date, the holdout date last.
    """
    plan = cfg.data
    dates = dates or planned_dates(inputs, cfg, as_of)
    return _population(_snapshots(inputs, [*dates.train, dates.holdout], plan.horizon_days, True),
                       plan.active_within_days)


def supervised_snapshot_files(inputs: CleanDataSet, cfg: TrainingConfig, as_of: date,
                              folder: str | os.PathLike[str],
                              dates: PlannedDates | None = None,
                              build: BlockBuilder | None = None,
                              sample_for: Sequence[TrainingConfig] = ()) -> SnapshotFiles:
    """:func:`supervised_snapshots` written to ``folder``, one Parquet file per snapshot date.

    Only one date's block is in memory at a time (:func:`write_snapshots`). On DuckDB, when the
    table is larger than ``cfg``'s ``max_fit_rows`` (and that of every config in ``sample_for``,
    which share these snapshots), each config's fit sample is drawn first, from the population
    and labels alone (:func:`~customer_tiering.training.snapshot_files.label_block`), and the
    training dates are built for the sampled customers only (the union over the configs); the
    holdout is built whole. The samples are the ones the fits would draw from the whole table
    (:attr:`SnapshotFiles.samples`), so the fits, the gate and the records are unchanged: only
    the features of customers no fit learns are not computed.

    Parameters
    ----------
    inputs, cfg, as_of, dates : as in :func:`supervised_snapshots`.
    folder : where the files go (the caller removes it).
    build : computes one date's block; by default the engine `train --engine` chose
        (:data:`SNAPSHOT_BUILDER`), else DuckDB.
    sample_for : the other configs that will fit on these snapshots.

    Returns
    -------
    SnapshotFiles
    """
    plan = cfg.data
    dates = dates or planned_dates(inputs, cfg, as_of)
    every_date = [*dates.train, dates.holdout]
    if build is not None or SNAPSHOT_BUILDER.get() is not None:
        return write_snapshots(inputs, every_date, folder, horizon_days=plan.horizon_days,
                               labels=True, active_within_days=plan.active_within_days,
                               build=build or engine_block)
    samples = _fit_samples(inputs, [cfg, *sample_for], dates, Path(folder) / "labels")
    chosen = None
    if samples is not None and all(s is not None for s in samples.values()):
        chosen = functools.reduce(np.union1d, [s.customers for s in samples.values()])
    files = write_snapshots(inputs, every_date, folder, horizon_days=plan.horizon_days,
                            labels=True, active_within_days=plan.active_within_days,
                            build=duckdb_block, sample_customers=chosen,
                            whole_dates={dates.holdout})
    return dataclasses.replace(files, samples=samples)


def _label_of(cfg: TrainingConfig) -> str:
    return "churned" if cfg.job == "churn" else "future_amount"


def _fit_samples(inputs: CleanDataSet, cfgs: Sequence[TrainingConfig], dates: PlannedDates,
                 folder: Path) -> dict[str, Any] | None:
    """Each config's fit sample (None: it learns every customer), drawn from label blocks as
    :func:`fit_supervised` would draw it from the whole table; None when no config has a budget."""
    from customer_tiering.training.sampling import customer_labels, sample_customers

    if all(c.max_fit_rows is None for c in cfgs):
        return None
    plan = cfgs[0].data
    labels = write_snapshots(inputs, [*dates.train, dates.holdout], folder,
                             horizon_days=plan.horizon_days, labels=True,
                             active_within_days=plan.active_within_days, build=label_block)
    samples: dict[str, Any] = {}
    for c in cfgs:
        label = _label_of(c)
        samples[label] = None
        if c.max_fit_rows is not None and labels.total_rows > c.max_fit_rows:
            samples[label] = sample_customers(
                customer_labels(labels, dates.train, dates.holdout, label), c.max_fit_rows,
                label, c.seed)
    return samples


def engine_block(inputs: CleanDataSet, day: date, horizon_days: int, labels: bool
                 ) -> pd.DataFrame:
    """One snapshot date's block by the engine in :data:`SNAPSHOT_BUILDER`, else by DuckDB."""
    builder = SNAPSHOT_BUILDER.get()
    if builder is None:
        return duckdb_block(inputs, day, horizon_days, labels)
    return builder(inputs.transactions, inputs.customers, inputs.interactions,
                   as_of_dates=[day], horizon_days=horizon_days, with_labels=labels)


PREDICT_BLOCK_ROWS = 250_000  # the holdout is scored whole, this many rows at a time


def _in_blocks(score: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame) -> np.ndarray:
    """``score(frame)`` computed block by block (one call when the frame is small)."""
    if len(frame) <= PREDICT_BLOCK_ROWS:
        return np.asarray(score(frame))
    return np.concatenate([np.asarray(score(frame.iloc[i:i + PREDICT_BLOCK_ROWS]))
                           for i in range(0, len(frame), PREDICT_BLOCK_ROWS)])


def fit_supervised(job: str, cfg: TrainingConfig, inputs: CleanDataSet, as_of: date,
                   settings: Any, step: Step, snapshots: SnapshotFiles | None = None,
                   workdir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Fit churn or value on the training snapshots and score everything on the holdout.

    The snapshots are files (:func:`supervised_snapshot_files`; built into ``workdir`` when not
    given). When they hold more rows than ``cfg.max_fit_rows``, the fit learns from a stratified
    sample of customers (:mod:`customer_tiering.training.sampling`); the holdout is scored whole.
    ``out["learnt"]()`` reads the rows the serving refit learns (every date, the same customers).
    """
    from customer_tiering.models.baselines import churn_baselines, value_baselines
    from customer_tiering.models.clv_summary import summary_from_parquet
    from customer_tiering.training.sampling import customer_labels, sample_customers

    plan = cfg.data
    dates = planned_dates(inputs, cfg, as_of)
    train_dates, holdout = dates.train, dates.holdout
    if dates.note:
        step(f"{job}: {dates.note}")
    clock = Stopwatch()
    if snapshots is None:
        if workdir is None:
            raise TieringError("fit_supervised needs the snapshot files or a folder to write them")
        step(f"{job}: building {len(train_dates) + 1} snapshots")
        snapshots = supervised_snapshot_files(inputs, cfg, as_of, workdir, dates)
    label = _label_of(cfg)
    sample = None
    if snapshots.samples is not None and label in snapshots.samples:
        sample = snapshots.samples[label]  # drawn before the training dates were built
    elif cfg.max_fit_rows is not None and snapshots.total_rows > cfg.max_fit_rows:
        sample = sample_customers(customer_labels(snapshots, train_dates, holdout, label),
                                  cfg.max_fit_rows, label, cfg.seed)
    customers = None if sample is None else sample.customers
    train = snapshots.read(train_dates, customers=customers)
    hold = snapshots.read([holdout])
    if train.empty or hold.empty:
        raise TieringError(f"{job}: no customers in the training or holdout snapshots for as_of "
                           f"{as_of} (holdout {holdout}); is there data before {train_dates[0]}?")
    features = cfg.model_features()
    clock.lap("snapshots")
    step(f"{job}: fitting on {len(train):,} rows"
         + (f" (a {sample.fraction:.0%} sample of the customers)" if sample else ""))
    model = make_estimator(job, cfg.params, features=features, seed=cfg.seed,
                           horizon_days=plan.horizon_days)
    model.fit(train, train[label], as_of=train["as_of"])
    clock.lap("fit")
    step(f"{job}: holdout {holdout} ({len(hold):,} customers) against the baselines")
    make_baselines = churn_baselines if job == "churn" else value_baselines
    baselines = make_baselines(hold, as_of=holdout, horizon_days=plan.horizon_days,
                               summary=summary_from_parquet(inputs.transactions, holdout))
    if job == "churn":
        scores: dict[str, np.ndarray] = {
            "model": _in_blocks(lambda f: model.predict_proba(f)[:, 1], hold)}
    else:
        scores = {"model": _in_blocks(lambda f: np.asarray(model.predict(f), dtype=float), hold)}
    champion_scores, champion_row, champion_version, champion_note = _rescore_champion(
        MODEL_NAME[job], settings, hold, job, holdout, cfg.gate.metric)
    if champion_scores is not None:
        scores["champion"] = champion_scores
    scores.update(baselines)
    table = compare(scores, hold[label].to_numpy(dtype=float), task=job)  # type: ignore[arg-type]
    if champion_row is not None:
        table.loc["champion"] = pd.Series(champion_row)
    clock.lap("holdout_and_baselines")
    learnt_customers = (len(customers) if customers is not None
                        else int(pd.concat([train["customer_id"], hold["customer_id"]]).nunique()))
    return {"model": model, "table": table, "train": train, "hold": hold, "scores": scores,
            "snapshot_files": snapshots, "sample": sample,
            "learnt": lambda: snapshots.read(customers=customers),
            "learnt_rows": (len(train) + int(hold["customer_id"].isin(customers).sum())
                            if customers is not None else snapshots.total_rows),
            "learnt_customers": learnt_customers,
            "label": label, "features": features, "holdout": holdout,
            "train_dates": train_dates, "plan_note": dates.note,
            "champion_version": champion_version,
            "champion_note": champion_note, "seconds": clock.laps}


def fit_segments(cfg: TrainingConfig, inputs: CleanDataSet, as_of: date, settings: Any,
                 step: Step) -> dict[str, Any]:
    """Fit segments at ``as_of`` and at the step before; agreement and silhouette on ``as_of``."""
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import RobustScaler

    from customer_tiering.models.segments import adjusted_rand_index
    from customer_tiering.registry.loading import load_version
    from customer_tiering.registry.versions import NoChampionError

    earlier_day = as_of - timedelta(days=cfg.data.step_days)
    clock = Stopwatch()
    step("segments: building 2 snapshots")
    snaps = _segment_snapshots(cfg, inputs, [earlier_day, as_of])
    snaps = _population(snaps, cfg.data.active_within_days)
    earlier = snaps[snaps["as_of"] == pd.Timestamp(earlier_day)].reset_index(drop=True)
    current = snaps[snaps["as_of"] == pd.Timestamp(as_of)].reset_index(drop=True)
    try:
        champion = load_version(MODEL_NAME["segments"], settings=settings)
    except NoChampionError:
        champion = None
    clock.lap("snapshots")
    step(f"segments: fitting on {len(current):,} customers")
    refit_before = make_estimator("segments", cfg.params, seed=cfg.seed).fit(earlier)
    model = make_estimator("segments", cfg.params, seed=cfg.seed).fit(
        current, previous=champion.model if champion is not None else refit_before)
    labels = model.predict(current)
    buyers = labels >= 0
    # one common space (log1p + robust scaling of the RFM columns) to compare any two fits fairly
    cols = list(model.features)
    logged = np.log1p(current.loc[buyers, cols].clip(lower=0).fillna(0).to_numpy(dtype=float))
    space = RobustScaler().fit_transform(logged)
    n = min(5_000, int(buyers.sum()))

    def silhouette(found: np.ndarray) -> float:
        if len(set(found[buyers].tolist())) < 2:
            return float("nan")
        return float(silhouette_score(space, found[buyers], sample_size=n, random_state=cfg.seed))

    rows = {"model": {"silhouette": silhouette(labels),
                      "ari_vs_previous_refit": adjusted_rand_index(refit_before.predict(current),
                                                                   labels),
                      "n_clusters": float(model.n_clusters_)}}
    if champion is not None:
        rows["champion"] = {"silhouette": silhouette(champion.model.predict(current)),
                            "ari_vs_previous_refit": adjusted_rand_index(
                                champion.model.predict(current), labels),
                            "n_clusters": float(champion.model.n_clusters_)}
    table = pd.DataFrame(rows).T
    clock.lap("fit_and_score")
    names = pd.Series(model.predict_names(current))
    profile = current.assign(segment=names).groupby("segment").agg(
        customers=("customer_id", "size"),
        monetary_amount_365d=("monetary_amount_365d", "mean"),
        order_count_365d=("order_count_365d", "mean"),
        days_since_last_order=("days_since_last_order", "median"),
    ).sort_values("monetary_amount_365d", ascending=False)
    return {"model": model, "table": table, "hold": current, "features": cols,
            "holdout": as_of, "train_dates": [earlier_day, as_of], "profile": profile,
            "champion_version": champion.version if champion is not None else None,
            "seconds": clock.laps}


