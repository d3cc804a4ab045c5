"""The training use case: snapshots -> model -> holdout vs baselines -> MLflow run -> gate -> alias.

Orchestration only: features come from :mod:`features`, estimators from :mod:`churn`,
:mod:`value` and :mod:`segments`, baselines and metrics from :mod:`baselines` and
:mod:`evaluation`, runs and the registry from :mod:`tracking`, :mod:`run_reports` and
:mod:`registry`. See :mod:`train_config` for the time layout (training snapshots, the estimator's
validation window, and the later, untouched holdout).

The current champion is re-scored on the candidate's holdout, so the gate compares numbers
measured on the same customers and the same window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.config_io import config_hash
from customer_tiering.core.errors import TieringError
from customer_tiering.features.compute import build_snapshots
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.models.evaluation import (
    calibration_table,
    compare,
    plot_calibration_curve,
    plot_capture_curve,
)
from customer_tiering.models.spec import TrainingConfig, make_estimator, plan_dates
from customer_tiering.registry.names import MODEL_NAME

__all__ = ["JobResult", "supervised_snapshots", "train_all", "train_job"]

Step = Callable[[str], None]


@dataclass
class JobResult:
    """What one job produced: the registered version, its alias and the holdout comparison."""

    job: str
    model_name: str
    version: str
    alias: str
    reasons: tuple[str, ...]
    metrics: pd.DataFrame
    run_id: str


class _Stopwatch:
    """Seconds per stage of a job, logged as ``seconds.<stage>`` metrics."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = now - self._last
        self._last = now


def _snapshots(inputs: CleanDataSet, dates: list[date], horizon: int, labels: bool
               ) -> pd.DataFrame:
    return build_snapshots(inputs.transactions, inputs.customers, inputs.interactions,
                           as_of_dates=dates, horizon_days=horizon, with_labels=labels)


def _population(frame: pd.DataFrame, active_within_days: int | None) -> pd.DataFrame:
    if active_within_days is None:
        return frame
    return frame[frame["days_since_last_order"] <= active_within_days].reset_index(drop=True)


def _mean_abs_contributions(model: Any, frame: pd.DataFrame, limit: int = 5_000) -> pd.Series:
    """Mean |SHAP value| per feature (exact TreeSHAP from LightGBM) on a sample of rows."""
    sample = frame.sample(min(limit, len(frame)), random_state=0) if len(frame) > limit else frame
    contrib = model.contributions(sample)
    contrib = contrib.drop(columns=[c for c in contrib.columns if c in ("bias", "base_value")])
    importance: pd.Series = contrib.abs().mean().sort_values()
    return importance


def _shap_figure(importance: pd.Series, title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, max(3.0, 0.3 * len(importance))))
    ax = fig.add_subplot()
    ax.barh(importance.index.astype(str), importance.to_numpy())
    ax.set_xlabel("mean |SHAP value| (raw model scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _rounds_note(model: Any) -> tuple[str, ...]:
    """How a boosted model chose its rounds, for the model card (nothing for segments)."""
    rounds = getattr(model, "best_iteration_", None)
    if rounds is None:
        return ()
    validation = ", ".join(str(d)[:10] for d in model.validation_dates_)
    final = ("then refit on every training snapshot" if model.refit
             else "no refit: the model learnt from the training dates only")
    return (f"early stopping chose {rounds} rounds on the validation snapshot {validation} "
            f"(training dates whose labels overlap it purged); {final}",)


def _rescore_champion(name: str, settings: Any, frame: pd.DataFrame, job: str
                      ) -> tuple[np.ndarray | None, str | None]:
    """The current champion's scores on this holdout, or ``None`` (with the reason) if none."""
    from customer_tiering.registry.versions import NoChampionError, load_version

    try:
        champion = load_version(name, settings=settings)
    except NoChampionError:
        return None, None
    try:
        if job == "churn":
            return np.asarray(champion.model.predict_proba(frame))[:, 1], champion.version
        return np.asarray(champion.model.predict(frame), dtype=float), champion.version
    except (TieringError, KeyError, ValueError) as exc:
        raise TieringError(f"champion {name} version {champion.version} cannot score this data "
                           f"({exc}); retrain with its features or roll back") from None


def supervised_snapshots(inputs: CleanDataSet, cfg: TrainingConfig, as_of: date
                         ) -> pd.DataFrame:
    """The training and holdout snapshots (with labels) of a churn or value config.

    Parameters
    ----------
    inputs : the clean data set.
    cfg : a churn or value config (its snapshot plan is used).
    as_of : the newest date with data; the holdout's labels end there.

    Returns
    -------
    pandas.DataFrame
        Features and labels of every snapshot date of the plan, the holdout date last.
    """
    plan = cfg.data
    train_dates, holdout = plan_dates(as_of, plan)
    return _population(_snapshots(inputs, [*train_dates, holdout], plan.horizon_days, True),
                       plan.active_within_days)


def _supervised(job: str, cfg: TrainingConfig, inputs: CleanDataSet, as_of: date,
                settings: Any, step: Step, snapshots: pd.DataFrame | None = None
                ) -> dict[str, Any]:
    """Fit churn or value on the training snapshots and score everything on the holdout."""
    from customer_tiering.models.baselines import churn_baselines, value_baselines

    plan = cfg.data
    train_dates, holdout = plan_dates(as_of, plan)
    clock = _Stopwatch()
    step(f"{job}: building {len(train_dates) + 1} snapshots")
    snaps = snapshots if snapshots is not None else supervised_snapshots(inputs, cfg, as_of)
    train = snaps[snaps["as_of"] < pd.Timestamp(holdout)].reset_index(drop=True)
    hold = snaps[snaps["as_of"] == pd.Timestamp(holdout)].reset_index(drop=True)
    if train.empty or hold.empty:
        raise TieringError(f"{job}: no customers in the training or holdout snapshots for as_of "
                           f"{as_of} (holdout {holdout}); is there data before {train_dates[0]}?")
    label = "churned" if job == "churn" else "future_amount"
    features = cfg.model_features()
    clock.lap("snapshots")
    step(f"{job}: fitting on {len(train):,} rows")
    model = make_estimator(job, cfg.params, features=features, seed=cfg.seed,
                           horizon_days=plan.horizon_days)
    model.fit(train, train[label], as_of=train["as_of"])
    clock.lap("fit")
    step(f"{job}: holdout {holdout} ({len(hold):,} customers) against the baselines")
    tx = pd.read_parquet(inputs.transactions, columns=["customer_id", "order_date", "amount"])
    make_baselines = churn_baselines if job == "churn" else value_baselines
    baselines = make_baselines(hold, tx, as_of=holdout, horizon_days=plan.horizon_days)
    if job == "churn":
        scores: dict[str, np.ndarray] = {"model": model.predict_proba(hold)[:, 1]}
    else:
        scores = {"model": np.asarray(model.predict(hold), dtype=float)}
    champion_scores, champion_version = _rescore_champion(MODEL_NAME[job], settings, hold, job)
    if champion_scores is not None:
        scores["champion"] = champion_scores
    scores.update(baselines)
    table = compare(scores, hold[label].to_numpy(dtype=float), task=job)  # type: ignore[arg-type]
    clock.lap("holdout_and_baselines")
    return {"model": model, "table": table, "train": train, "hold": hold, "scores": scores,
            "label": label, "features": features, "holdout": holdout, "train_dates": train_dates,
            "champion_version": champion_version, "seconds": clock.laps}


def _segments(cfg: TrainingConfig, inputs: CleanDataSet, as_of: date, settings: Any,
              step: Step) -> dict[str, Any]:
    """Fit segments at ``as_of`` and at the step before; agreement and silhouette on ``as_of``."""
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import RobustScaler

    from customer_tiering.models.segments import adjusted_rand_index
    from customer_tiering.registry.versions import NoChampionError, load_version

    earlier_day = as_of - timedelta(days=cfg.data.step_days)
    clock = _Stopwatch()
    step("segments: building 2 snapshots")
    snaps = _snapshots(inputs, [earlier_day, as_of], cfg.data.horizon_days, False)
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


def train_job(
    job: str,
    cfg: TrainingConfig,
    *,
    data_dir: str | os.PathLike[str],
    as_of: date,
    settings: Any,
    parent: str | None = None,
    step: Step | None = None,
    snapshots: pd.DataFrame | None = None,
) -> JobResult:
    """Train one job, log it as one MLflow run, register the model and apply the gate.

    Parameters
    ----------
    job, cfg : ``segments``, ``churn`` or ``value``, and its config.
    data_dir, as_of, settings : the clean data set, the newest date with data, the MLflow store.
    parent, step : the parent run's id (:func:`train_all`), and a callback for each stage's line.
    snapshots : :func:`supervised_snapshots` with the same plan, which saves rebuilding them when
        churn and value share a plan.

    Returns
    -------
    JobResult
        The registered version and the alias it got (``champion`` or ``challenger``).

    Raises
    ------
    TieringError
        When the config is for another job, the snapshots are empty, or the current champion
        cannot score this data.
    """
    import mlflow

    from customer_tiering.registry.tracking import dataset_fingerprint, job_run, use_store
    from customer_tiering.registry.versions import apply_gate, log_and_register, promotion_gate
    from customer_tiering.training.run_reports import ModelCard, log_comparison, log_figure, log_model_card

    say = step or (lambda _m: None)
    if cfg.job != job:
        raise TieringError(f"the {job} job was given a config for {cfg.job!r}")
    inputs = CleanDataSet.from_dir(data_dir)
    fingerprint = dataset_fingerprint({k: str(v) for k, v in inputs.paths().items()})
    out = (_segments(cfg, inputs, as_of, settings, say) if job == "segments"
           else _supervised(job, cfg, inputs, as_of, settings, say, snapshots))
    table: pd.DataFrame = out["table"]
    name = MODEL_NAME[job]
    with use_store(settings) as client, job_run(job, settings=settings, config=cfg, as_of=as_of,
                                                dataset_fingerprint=fingerprint, parent=parent
                                                ) as run:
        mlflow.log_params({"holdout_as_of": str(out["holdout"]),
                           "train_as_of": ",".join(str(d) for d in out["train_dates"]),
                           "holdout_customers": len(out["hold"])})
        mlflow.log_metrics({f"seconds.{stage}": s for stage, s in out["seconds"].items()})
        if job != "segments":  # the rounds early stopping chose on the purged validation window
            mlflow.log_metric("boosting_rounds", out["model"].best_iteration_)
        log_comparison(table)
        if job == "churn":
            y = out["hold"][out["label"]].to_numpy()
            probs = {k: v for k, v in out["scores"].items() if k in ("model", "champion")}
            log_figure(plot_calibration_curve(y, probs), "calibration_curve")
            mlflow.log_text(calibration_table(y, probs["model"], strategy="quantile").to_csv(
                index=False), "metrics/calibration_table.csv")
        if job == "value":
            y = out["hold"][out["label"]].to_numpy()
            log_figure(plot_capture_curve(y, out["scores"]), "capture_curve")
        if job != "segments":
            importance = _mean_abs_contributions(out["model"], out["hold"])
            log_figure(_shap_figure(importance, f"{name}: SHAP summary"), "shap_summary")
            mlflow.log_text(importance[::-1].to_csv(), "shap_summary.csv")
        else:
            mlflow.log_text(out["profile"].to_csv(), "segment_profile.csv")
            k_scores = getattr(out["model"], "k_scores_", {})
            mlflow.log_metrics({f"k_search.{cfg.params.get('criterion', 'silhouette')}.k{k}": v
                                for k, v in k_scores.items()})
        log_model_card(ModelCard(
            model_name=name, job=job, as_of=str(as_of),
            data_window=f"training snapshots {out['train_dates'][0]} .. {out['train_dates'][-1]}, "
                        f"holdout {out['holdout']} (+{cfg.data.horizon_days} days)",
            features=out["features"], metrics=table.T, config_hash=config_hash(cfg),
            dataset_fingerprint=fingerprint,
            notes=(f"population: ordered within {cfg.data.active_within_days} days"
                   if cfg.data.active_within_days else "population: every known customer",
                   f"champion re-scored on this holdout: version {out['champion_version']}"
                   if out["champion_version"] else "no champion before this run",
                   *_rounds_note(out["model"])),
        ))
        example = out["hold"].head(20)
        registered = log_and_register(
            out["model"], name, X_example=example[[c for c in example.columns
                                                   if c not in ("churned", "future_amount")]],
            predict_fn="predict_proba" if job == "churn" else "predict",
        )
        rows = {str(scorer): {str(m): float(v) for m, v in values.items()}
                for scorer, values in table.to_dict(orient="index").items()}
        candidate = rows.pop("model")
        champion = rows.pop("champion", None)
        baselines = {} if job == "segments" else rows
        decision = promotion_gate(candidate, champion, baselines, metric=cfg.gate.metric,
                                  higher_is_better=cfg.gate.higher_is_better,
                                  margin=cfg.gate.margin)
        alias = apply_gate(client, name, registered.version, decision)
        mlflow.set_tag("alias", alias)
        run_id = run.info.run_id
    say(f"{job}: version {registered.version} is {alias}")
    return JobResult(job, name, registered.version, alias, decision.reasons, table, run_id)


def train_all(
    configs: Mapping[str, TrainingConfig],
    *,
    data_dir: str | os.PathLike[str],
    as_of: date,
    settings: Any,
    step: Step | None = None,
) -> list[JobResult]:
    """Segments, churn and value under one parent run (``all``), each job a nested run.

    Churn and value share their snapshots when their snapshot plans are the same.

    Parameters
    ----------
    configs : the configs by job; jobs without one are skipped.
    data_dir, as_of, settings, step : as in :func:`train_job`.

    Returns
    -------
    list of JobResult
        In the order segments, churn, value.
    """
    from customer_tiering.registry.tracking import dataset_fingerprint, job_run, use_store

    inputs = CleanDataSet.from_dir(data_dir)
    fingerprint = dataset_fingerprint({k: str(v) for k, v in inputs.paths().items()})
    import mlflow

    results = []
    with use_store(settings), job_run("all", settings=settings,
                                      config={j: c.model_dump(mode="json")
                                              for j, c in configs.items()},
                                      as_of=as_of, dataset_fingerprint=fingerprint) as parent:
        shared: dict[str, pd.DataFrame] = {}
        for job in ("segments", "churn", "value"):
            if job not in configs:
                continue
            snapshots = None
            if job != "segments":
                key = configs[job].data.model_dump_json()
                if key not in shared:
                    if step is not None:
                        step(f"building the snapshots shared by churn and value ({job} plan)")
                    started = time.perf_counter()
                    shared[key] = supervised_snapshots(inputs, configs[job], as_of)
                    mlflow.log_metric(f"seconds.shared_snapshots.{job}",
                                      time.perf_counter() - started)
                snapshots = shared[key]
            result = train_job(job, configs[job], data_dir=data_dir, as_of=as_of,
                               settings=settings, parent=parent.info.run_id, step=step,
                               snapshots=snapshots)
            results.append(result)
            mlflow.set_tag(f"{job}.version", f"{result.version} ({result.alias})")
    return results
