"""The training use case: snapshots -> model -> holdout vs baselines -> MLflow run -> gate -> alias.

Orchestration only: fitting and the holdout comparison come from
:mod:`customer_tiering.training.fitting`, what serves after the gate from
:mod:`customer_tiering.training.selection`, runs and the registry from
:mod:`customer_tiering.registry` and :mod:`customer_tiering.training.run_reports`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.config_io import config_hash
from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.models.evaluation import calibration_table
from customer_tiering.models.evaluation_plots import plot_calibration_curve, plot_capture_curve
from customer_tiering.models.spec import TrainingConfig
from customer_tiering.registry.gate import GateDecision
from customer_tiering.registry.names import MODEL_NAME
from customer_tiering.training.descriptions import VersionFacts
from customer_tiering.training.fitting import (
    fit_segments,
    fit_supervised,
    supervised_snapshot_files,
    supervised_snapshots,
)
from customer_tiering.training.snapshot_files import SnapshotFiles

__all__ = ["JobResult", "supervised_snapshot_files", "supervised_snapshots", "train_all",
           "train_job"]

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
    serves: str = "model"
    champion_version: str | None = None
    experiment_id: str = ""

    @property
    def serving(self) -> str:
        """What serves after this job, in words: this version, the champion, or a baseline."""
        if self.serves == "model":
            return "this version"
        if self.serves == "champion":
            return "the champion, unchanged"
        return f"the baseline {self.serves} (version {self.champion_version})"


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
    if getattr(model, "validation_split_", "time") == "customers":
        return (f"early stopping chose {rounds} rounds on a held-out fifth of the customers at "
                f"{validation} (the history is too short for a purged time split: those "
                f"customers were never trained on); {final}",)
    return (f"early stopping chose {rounds} rounds on the validation snapshot {validation} "
            f"(training dates whose labels overlap it purged); {final}",)


def _version_facts(job: str, cfg: TrainingConfig, out: Mapping[str, Any], as_of: date,
                   fingerprint: str, refit: bool, scores: Mapping[str, Mapping[str, float]],
                   decision: GateDecision) -> VersionFacts:
    """What the run's versions are described with; scorer and alias are filled in per version."""
    if job == "segments":
        rows, customers, dates = len(out["hold"]), int(out["hold"]["customer_id"].nunique()), [
            as_of]
    elif refit:
        rows, customers = out["learnt_rows"], out["learnt_customers"]
        dates = [*out["train_dates"], out["holdout"]]
    else:
        rows, customers = len(out["train"]), int(out["train"]["customer_id"].nunique())
        dates = list(out["train_dates"])
    metric = cfg.gate.metric
    return VersionFacts(
        job=job, as_of=str(as_of), horizon_days=cfg.data.horizon_days, scorer="",
        training_dates=[str(d) for d in dates], rows=rows,
        customers=customers, holdout_as_of=str(out["holdout"]),
        holdout_customers=len(out["hold"]), dataset_fingerprint=fingerprint,
        config_hash=config_hash(cfg), metric=metric, higher_is_better=cfg.gate.higher_is_better,
        margin=cfg.gate.margin,
        scores={k: v.get(metric, float("nan")) for k, v in scores.items()},
        sample_note=out["sample"].note() if out.get("sample") is not None else None,
        passed=decision.passed, reasons=decision.reasons, alias="",
        champion_version=out["champion_version"],
        champion_note=out.get("champion_note") or (
            None if out["champion_version"] or any("no champion" in r for r in decision.reasons)
            else "no champion before this run"))


def _scorer_text(job: str, model: Any, refit: bool) -> str:
    """The registered model in words, for its version's description."""
    if job == "segments":
        return f"`{type(model).__name__}` with {model.n_clusters_} segments"
    return (f"`{type(model).__name__}` (LightGBM), "
            + (f"refit with the gated fit's {model.fixed_rounds} rounds on every snapshot, "
               "holdout included" if refit else "the gated fit itself"))


def train_job(
    job: str,
    cfg: TrainingConfig,
    *,
    data_dir: str | os.PathLike[str],
    as_of: date,
    settings: Any,
    parent: str | None = None,
    step: Step | None = None,
    snapshots: SnapshotFiles | None = None,
    fingerprint: str | None = None,
) -> JobResult:
    """Train one job, log it as one MLflow run, register the model and apply the gate.

    Parameters
    ----------
    job, cfg : ``segments``, ``churn`` or ``value``, and its config.
    data_dir, as_of, settings : the clean data set, the newest date with data, the MLflow store.
    parent, step : the parent run's id (:func:`train_all`), and a callback for each stage's line.
    snapshots : :func:`~customer_tiering.training.fitting.supervised_snapshot_files` with the
        same plan, which saves rebuilding them when churn and value share a plan; without them
        the job writes its own to a temporary folder, removed when it ends.
    fingerprint : the data set's fingerprint when already computed (:func:`train_all`).

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
    from customer_tiering.registry.tracking import (
        DEFAULT_EXPERIMENT,
        dataset_fingerprint,
        ensure_experiment,
        use_store,
    )

    say = step or (lambda _m: None)
    if cfg.job != job:
        raise TieringError(f"the {job} job was given a config for {cfg.job!r}")
    inputs = CleanDataSet.from_dir(data_dir)
    fingerprint = fingerprint or dataset_fingerprint(
        {k: str(v) for k, v in inputs.paths().items()})
    if parent is None:  # a copied store is re-anchored before its champion is loaded to compare
        with use_store(settings) as client:
            ensure_experiment(client, DEFAULT_EXPERIMENT, settings)
    with tempfile.TemporaryDirectory(prefix="tiering-snapshots-") as workdir:
        return _train_job(job, cfg, inputs, fingerprint, workdir, as_of=as_of, settings=settings,
                          parent=parent, say=say, snapshots=snapshots)


def _train_job(job: str, cfg: TrainingConfig, inputs: CleanDataSet, fingerprint: str,
               workdir: str, *, as_of: date, settings: Any, parent: str | None, say: Step,
               snapshots: SnapshotFiles | None) -> JobResult:
    import mlflow

    from customer_tiering.registry.tracking import job_run, use_store
    from customer_tiering.registry.versions import apply_gate, log_and_register, promotion_gate
    from customer_tiering.training.descriptions import model_description, version_description
    from customer_tiering.training.run_reports import ModelCard, log_comparison, log_figure, log_model_card
    from customer_tiering.training.selection import (
        CANDIDATE,
        choose_scorer,
        fit_serving_baseline,
        refit_for_serving,
        servable_baselines,
    )

    out = (fit_segments(cfg, inputs, as_of, settings, say) if job == "segments"
           else fit_supervised(job, cfg, inputs, as_of, settings, say, snapshots, workdir))
    table: pd.DataFrame = out["table"]
    name = MODEL_NAME[job]
    with use_store(settings) as client, job_run(job, settings=settings, config=cfg, as_of=as_of,
                                                dataset_fingerprint=fingerprint, parent=parent,
                                                horizon_days=cfg.data.horizon_days) as run:
        mlflow.log_params({"holdout_as_of": str(out["holdout"]),
                           "train_as_of": ",".join(str(d) for d in out["train_dates"]),
                           "holdout_customers": len(out["hold"])})
        mlflow.log_metrics({f"seconds.{stage}": s for stage, s in out["seconds"].items()})
        if job != "segments":  # the rounds early stopping chose on the purged validation window
            mlflow.log_metric("boosting_rounds", out["model"].best_iteration_)
            sample = out["sample"]
            mlflow.log_params(sample.params() if sample is not None else {
                "fit_sample.budget_rows": cfg.max_fit_rows, "fit_sample.fraction": 1.0})
            mlflow.set_tag("fit_sample", "stratified by label" if sample is not None
                           else "none: every customer learnt")
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
        rows = {str(scorer): {str(m): float(v) for m, v in values.items()}
                for scorer, values in table.to_dict(orient="index").items()}
        candidate_row = rows["model"]
        champion_row = rows.get("champion")
        baselines = {k: v for k, v in rows.items() if k not in ("model", "champion")}
        decision = promotion_gate(candidate_row, champion_row, baselines, metric=cfg.gate.metric,
                                  higher_is_better=cfg.gate.higher_is_better,
                                  margin=cfg.gate.margin)
        choice = choose_scorer(rows, gate_passed=decision.passed, metric=cfg.gate.metric,
                               higher_is_better=cfg.gate.higher_is_better, margin=cfg.gate.margin,
                               servable=servable_baselines(job))
        refit = job != "segments" and cfg.serve_refit
        scorer = None
        learnt = out["learnt"]() if refit else out.get("train")
        if choice.is_baseline:  # churn and value only: segments have no baselines
            say(f"{job}: the baseline {choice.serves} ranks best; fitting it to serve")
            scorer, choice = fit_serving_baseline(
                job, choice, learnt, out["label"],
                cfg.data.horizon_days, has_champion=out["champion_version"] is not None)
        served, served_dates = out["model"], out["train_dates"]
        if refit:
            say(f"{job}: refitting {out['model'].best_iteration_} rounds on every snapshot, "
                f"holdout {out['holdout']} included")
            started = time.perf_counter()
            out.pop("train", None)  # the gated fit's rows: the refit reads its own
            served = refit_for_serving(out["model"], learnt, out["label"])
            served_dates = [*out["train_dates"], out["holdout"]]
            mlflow.log_metric("seconds.serve_refit", time.perf_counter() - started)
        del learnt
        if out.get("plan_note"):
            mlflow.set_tag("plan.reduced", out["plan_note"])
        mlflow.log_params({"serves": choice.serves,
                           "served_training_dates": ",".join(str(d) for d in served_dates)})
        mlflow.set_tag("serves", choice.serves)
        mlflow.log_text("\n".join(choice.reasons), "serving_choice.txt")
        log_model_card(ModelCard(
            model_name=name, job=job, as_of=str(as_of),
            data_window=f"training snapshots {out['train_dates'][0]} .. {out['train_dates'][-1]}, "
                        f"holdout {out['holdout']} (+{cfg.data.horizon_days} days)",
            features=out["features"], metrics=table.T, config_hash=config_hash(cfg),
            dataset_fingerprint=fingerprint,
            notes=(f"population: ordered within {cfg.data.active_within_days} days"
                   if cfg.data.active_within_days else "population: every known customer",
                   out.get("champion_note") or (
                       f"champion re-scored on this holdout: version {out['champion_version']}"
                       if out["champion_version"] else "no champion before this run"),
                   *_rounds_note(out["model"]),
                   *((out["sample"].note(),) if out.get("sample") is not None else ()),
                   *((out["plan_note"],) if out.get("plan_note") else ()),
                   *(("the metrics above are the gated fit's, measured before it saw the "
                      f"holdout; the registered model is a refit on {len(served_dates)} snapshot "
                      f"dates through {served_dates[-1]}",) if refit else ()),
                   f"serves: {choice.serves}", *choice.reasons),
        ))
        example = out["hold"].head(20)
        example = example[[c for c in example.columns if c not in ("churned", "future_amount")]]
        predict_fn = "predict_proba" if job == "churn" else "predict"
        metric = cfg.gate.metric
        common = {"gate.holdout_as_of": str(out["holdout"]), "served.refit": str(refit).lower(),
                  "served.training_dates": ",".join(str(d) for d in served_dates)}
        registered = log_and_register(
            served, name, X_example=example, predict_fn=predict_fn,
            tags={**common, "scorer.kind": "model", "scorer.name": type(served).__name__,
                  f"served.{metric}": repr(candidate_row.get(metric, float("nan")))})
        alias = apply_gate(client, name, registered.version, decision,
                           crown_reason=" ".join(choice.reasons)
                           if choice.serves == CANDIDATE and not decision.passed else None)
        champion_version = registered.version if alias == "champion" else out["champion_version"]
        facts = _version_facts(job, cfg, out, as_of, fingerprint, refit, rows, decision)
        client.update_registered_model(name, description=model_description(job, name))
        client.update_model_version(name, registered.version, description=version_description(
            replace(facts, scorer=_scorer_text(job, served, refit), alias=alias,
                    why_alias=(("the promotion gate passed",) if decision.passed
                               else choice.reasons))))
        mlflow.set_tags({"gate.passed": str(decision.passed).lower(),
                         "registered.version": registered.version})
        if scorer is not None:
            mlflow.log_dict(scorer.describe(), f"baseline_{choice.serves}.json")
            baseline = log_and_register(
                scorer, name, X_example=example, predict_fn=predict_fn, artifact_name="baseline",
                tags={**common, "scorer.kind": "baseline", "scorer.name": choice.serves,
                      f"served.{metric}": repr(rows[choice.serves].get(metric, float("nan")))})
            given = apply_gate(client, name, baseline.version, decision,
                               crown_reason=" ".join(choice.reasons))
            client.update_model_version(name, baseline.version, description=version_description(
                replace(facts, scorer=f"the baseline `{choice.serves}`, fitted to serve on the "
                        "same snapshots (" + ("every complete one, holdout included" if refit
                                              else "the training dates") + ")",
                        alias=given, why_alias=choice.reasons)))
            mlflow.set_tag("registered.baseline_version", baseline.version)
            champion_version = baseline.version
        # Which version serves is the registry's alias, moved later by promote and rollback; a
        # run tag would keep the value it had at training time, so none is written.
        run_id = run.info.run_id
        experiment_id = run.info.experiment_id
    say(f"{job}: version {registered.version} is {alias}"
        + (f"; the baseline {choice.serves} serves as version {champion_version}"
           if choice.is_baseline else ""))
    return JobResult(job, name, registered.version, alias, (*decision.reasons, *choice.reasons),
                     table, run_id, choice.serves, champion_version, str(experiment_id))


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
    labelled = [c.data.horizon_days for j, c in configs.items() if j != "segments"]
    with contextlib.ExitStack() as stack, use_store(settings), job_run("all", settings=settings,
                                      config={j: c.model_dump(mode="json")
                                              for j, c in configs.items()},
                                      as_of=as_of, dataset_fingerprint=fingerprint,
                                      horizon_days=labelled or [c.data.horizon_days for c in
                                                                configs.values()]) as parent:
        shared: dict[str, SnapshotFiles] = {}
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="tiering-snapshots-"))
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
                    sharing = [c for j, c in configs.items()
                               if j not in ("segments", job) and c.data == configs[job].data]
                    shared[key] = supervised_snapshot_files(
                        inputs, configs[job], as_of, Path(workdir) / f"{job}-plan",
                        sample_for=sharing)
                    mlflow.log_metric(f"seconds.shared_snapshots.{job}",
                                      time.perf_counter() - started)
                snapshots = shared[key]
            result = train_job(job, configs[job], data_dir=data_dir, as_of=as_of,
                               settings=settings, parent=parent.info.run_id, step=step,
                               snapshots=snapshots, fingerprint=fingerprint)
            results.append(result)
            mlflow.set_tag(f"{job}.version", result.version)  # its alias is the registry's
    return results
