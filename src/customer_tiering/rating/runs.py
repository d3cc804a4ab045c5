"""The rating use case: data + champion models + configs -> graded, explained customers in the store.

Orchestration only. Periodic rating (周期性评级), for every customer as of a date::

    load clean data -> features(as_of) -> champion models (MLflow aliases) -> scorecard points
    -> blend -> grade (+ hysteresis against the last periodic rating) -> policy -> explanation
    -> drift -> tier store (one transaction)

Special rating (特殊评级): one customer re-graded now, stored as its own rating with its reason.
For a quota scheme (grades by rank or revenue share, which need the whole population) a single
customer is graded against the cut-offs of the latest periodic rating: the lowest total each grade
held there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.core.stopwatch import Stopwatch
from customer_tiering.ingest.clean_data import CleanDataSet
from customer_tiering.models.drift import drift_table
from customer_tiering.rating.champions import (
    ChampionSet,
    ServingConfigs,
    load_champions,
    load_serving_configs,
)
from customer_tiering.rating.checks import rating_checks
from customer_tiering.rating.population import (
    GradedPopulation,
    grade_cutoffs,
    grade_population,
)
from customer_tiering.registry.names import MODEL_NAME
from customer_tiering.scoring.explain import criteria_meta
from customer_tiering.store.tier_store import RatingRecord, TierStore, now_utc

__all__ = ["RatingResult", "clean_data_and_fingerprint", "rating_features", "run_periodic_rating",
           "run_special_rating"]

Step = Callable[[str], None]
Progress = Callable[[int, int], None]
_ROWS_PER_CHUNK = 50_000  # customers explained and written at a time (bounded memory)


@dataclass(frozen=True)
class RatingResult:
    """A stored rating and whether this call created it."""

    record: RatingRecord
    created: bool
    seconds: dict[str, float]


def _rating_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _drift(models: ChampionSet, graded: GradedPopulation) -> list[dict[str, Any]]:
    """PSI against the champions' training snapshot, on the population they were trained on."""
    frame = graded.features.frame().copy()
    n = len(frame)
    frame["churn_probability"] = (graded.churn_probability if graded.churn_probability is not None
                                  else np.full(n, np.nan))
    frame["expected_value_next_period"] = (graded.expected_value
                                           if graded.expected_value is not None
                                           else np.full(n, np.nan))
    if models.active_within_days is not None:
        days = pd.to_numeric(frame["days_since_last_order"], errors="coerce")
        frame = frame[days <= models.active_within_days]
    tables = []
    for name, model in ((MODEL_NAME["churn"], models.churn), (MODEL_NAME["value"], models.value)):
        profiles = getattr(model, "reference_profile_", None) if model is not None else None
        if profiles:
            tables.append(drift_table(profiles, frame, source=name))
    if not tables:
        return []
    table = pd.concat(tables, ignore_index=True)
    # a presence change has no PSI (None, since JSON has no NaN); the change says what happened
    return [{"source": str(r["source"]), "column": str(r["column"]),
             "psi": None if isinstance(r["change"], str) else float(r["psi"]),
             "change": r["change"] if isinstance(r["change"], str) else None,
             "warning": bool(r["warning"])} for r in table.to_dict(orient="records")]


def _header(kind: str, as_of: date, scheme_name: str, configs: ServingConfigs,
            models: ChampionSet, fingerprint: str, customer_id: str | None,
            reason: str | None) -> dict[str, Any]:
    key_parts = {"kind": kind, "as_of": as_of, "scheme": scheme_name,
                 "horizon": models.horizon_days, "configs": configs.hashes,
                 "models": {n: v["version"] for n, v in models.versions.items()},
                 "data": fingerprint, "customer_id": customer_id, "reason": reason}
    scheme = configs.rules.scheme(scheme_name)
    policies = configs.rules.policies.schemes.get(scheme_name, {})
    return {
        "rating_key": _rating_key(key_parts),
        "kind": kind,
        "as_of": as_of,
        "scheme": scheme_name,
        "horizon_days": models.horizon_days,
        "customer_id": customer_id,
        "reason": reason,
        "data_fingerprint": fingerprint,
        "configs": {"versions": configs.versions, "hashes": configs.hashes,
                    "amounts_in": configs.rules.card.amounts_in},
        "models": models.versions,
        "grade_labels": {g.id: {"zh": g.label.zh, "en": g.label.en} for g in scheme.grades},
        "policies": {g: p.model_dump(mode="json") for g, p in policies.items()},
    }


def clean_data_and_fingerprint(data_dir: Path) -> tuple[CleanDataSet, str]:
    """The data set and a hash of its files' bytes (streamed: constant memory at any size)."""
    from customer_tiering.registry.tracking import files_fingerprint

    inputs = CleanDataSet.from_dir(data_dir)
    return inputs, files_fingerprint(inputs.paths())


def rating_features(inputs: CleanDataSet, as_of: date, customer_id: str | None = None
                    ) -> pd.DataFrame:
    """Every customer's point-in-time features at ``as_of`` (or one customer's), with their names.

    Parameters
    ----------
    inputs
        The clean data set.
    as_of
        The rating date: nothing after it is read.
    customer_id
        When given, only that customer's row (the filter reaches the Parquet scans).
    """
    import pyarrow.parquet as pq

    from customer_tiering.features.compute import compute_features

    features = compute_features(inputs.transactions, inputs.customers, inputs.interactions,
                                as_of=as_of, customer_id=customer_id)
    features["customer_id"] = features["customer_id"].astype(str)
    if inputs.customers is not None and "name" in pq.read_schema(inputs.customers).names:
        names = pd.read_parquet(inputs.customers, columns=["customer_id", "name"]).rename(
            columns={"name": "customer_name"})
        names["customer_id"] = names["customer_id"].astype(str)
        features = features.merge(names.drop_duplicates("customer_id"), on="customer_id",
                                  how="left")
    return features


def run_periodic_rating(
    *,
    as_of: date,
    settings: Settings,
    data_dir: str | os.PathLike[str],
    scheme: str | None = None,
    horizon_days: int | None = None,
    step: Step | None = None,
    progress: Progress | None = None,
) -> RatingResult:
    """Grade every customer as of ``as_of`` and store the rating (idempotent).

    Parameters
    ----------
    data_dir : the clean data set (``tiering load --out``): transactions, optional customers and
        interactions, as Parquet.
    scheme : grade scheme (default: ``grades.yaml``'s ``default_scheme``).
    horizon_days : label horizon of the champions to use (default: the training config's).
    step, progress : report the stage, and rows written while storing.
    """
    say = step or (lambda _m: None)
    clock = Stopwatch()
    lap = clock.lap

    configs = load_serving_configs(settings.config_dir)
    scheme_name = scheme or configs.rules.grades.default_scheme
    chosen = configs.rules.scheme(scheme_name)
    say("loading the champion models")
    models = load_champions(settings, configs, horizon_days=horizon_days)
    lap("models")
    say("fingerprinting the data")
    inputs, fingerprint = clean_data_and_fingerprint(Path(data_dir))
    header = _header("periodic", as_of, scheme_name, configs, models, fingerprint, None, None)
    store = TierStore.open(settings.tier_store_url())
    try:
        existing = store.rating_by_key(header["rating_key"])
        if existing is not None:
            return RatingResult(existing, False, clock.laps)
        lap("fingerprint")
        say(f"computing features as of {as_of}")
        features = rating_features(inputs, as_of)
        if features.empty:  # LightGBM cannot predict zero rows, and no rating is no grade
            raise TieringError(
                f"{data_dir}: no customer has a transaction on or before {as_of}, so there is "
                "nobody to rate; load a data set with transactions (`tiering load`) or choose "
                "a later --as-of")
        lap("features")
        previous = store.latest_rating(kind="periodic", before=as_of, scheme=scheme_name)
        previous_grade = None
        if previous is not None:
            prev = store.grades(previous.id, columns=["customer_id", "grade"])
            previous_grade = pd.Series(prev["grade"].to_numpy(), index=prev["customer_id"])
        say(f"scoring and blending {len(features):,} customers")
        graded = grade_population(features, configs, models, scheme=chosen,
                                  previous_grade=previous_grade)
        del features
        lap("score_blend_grade")
        drift = _drift(models, graded)
        checks = rating_checks(graded.grade, chosen, graded.blended.scorecard,
                               revenue=graded.features.numeric("monetary_amount_365d"),
                               churn_probability=graded.churn_probability)
        lap("drift_and_checks")
        header.update({
            "created_at": now_utc(), "customer_count": len(graded), "checks": checks,
            "criteria": criteria_meta(graded.blended), "reference": graded.means, "drift": drift,
            "counts": {str(g): int(c) for g, c in
                       pd.Series(graded.grade).value_counts().items()},
        })
        header["seconds"] = clock.elapsed()
        say(f"explaining and storing {len(graded):,} grades")
        chunks = (graded.rows(start, start + _ROWS_PER_CHUNK)
                  for start in range(0, len(graded), _ROWS_PER_CHUNK))
        record, created = store.save_rating(header, chunks, total=len(graded),
                                            progress=progress)
        lap("explain_and_store")
        return RatingResult(record, created, clock.laps)
    finally:
        store.close()


def run_special_rating(
    *,
    customer_id: str,
    reason: str,
    settings: Settings,
    data_dir: str | os.PathLike[str],
    as_of: date | None = None,
    scheme: str | None = None,
    horizon_days: int | None = None,
    step: Step | None = None,
    champions: ChampionSet | None = None,
    configs: ServingConfigs | None = None,
) -> RatingResult:
    """Re-grade one customer now (特殊评级) and store it as a rating of kind ``special``.

    ``as_of`` defaults to the latest order date in the data ("now" as the data knows it).

    Parameters
    ----------
    champions, configs
        Models and serving configs already loaded (a running server passes the set it holds
        and has smoke-checked, so the rating uses what its other answers use). When None they
        are loaded here: the configs from ``settings.config_dir``, the ``champion`` aliases
        from MLflow (with ``horizon_days``).

    Raises
    ------
    TieringError
        When ``horizon_days`` is given with ``champions`` of another horizon.
    """
    say = step or (lambda _m: None)
    if not reason.strip():
        raise TieringError("a special rating needs a reason (--reason)")
    if (champions is not None and horizon_days is not None
            and horizon_days != champions.horizon_days):
        raise TieringError(f"horizon_days={horizon_days} but the champions given were trained "
                           f"for {champions.horizon_days} days")
    if configs is None:
        configs = load_serving_configs(settings.config_dir)
    scheme_name = scheme or configs.rules.grades.default_scheme
    chosen = configs.rules.scheme(scheme_name)
    models = (champions if champions is not None
              else load_champions(settings, configs, horizon_days=horizon_days))
    inputs, fingerprint = clean_data_and_fingerprint(Path(data_dir))
    if as_of is None:
        latest = pd.read_parquet(inputs.transactions, columns=["order_date"])["order_date"].max()
        if pd.isna(latest):
            raise TieringError(f"{data_dir}: the data set has no transactions; nobody to rate")
        as_of = pd.Timestamp(latest).date()
    store = TierStore.open(settings.tier_store_url())
    try:
        say(f"computing features of {customer_id} as of {as_of}")
        one = rating_features(inputs, as_of, customer_id=str(customer_id)).reset_index(drop=True)
        if one.empty:
            raise TieringError(f"customer {customer_id!r} is not in the data under {data_dir}")
        last = store.latest_rating(kind="periodic", scheme=scheme_name)
        cutoffs = None
        if chosen.method != "thresholds":
            if last is None:
                raise TieringError(f"scheme {scheme_name!r} grades by quota, which needs a "
                                   "periodic rating to take the cut-offs from; run "
                                   "`tiering rate --as-of DATE` first")
            cutoffs = grade_cutoffs(store, last.id)
        # Hysteresis compares grades of one scheme: the previous grade is the customer's newest
        # grade in a rating of this scheme (another scheme's grade is not one of its bands).
        previous_grade = None
        history = store.customer_history(str(customer_id))
        for rating_id, grade in zip(history["rating_id"].to_numpy()[::-1],
                                    history["grade"].to_numpy()[::-1], strict=True):
            if store.rating(int(rating_id)).scheme == scheme_name:
                previous_grade = pd.Series([grade], index=[str(customer_id)])
                break
        graded = grade_population(
            one, configs, models, scheme=chosen, previous_grade=previous_grade, cutoffs=cutoffs,
            means=last.reference if last is not None else None)
        rows = graded.rows()
        header = _header("special", as_of, scheme_name, configs, models, fingerprint,
                         str(customer_id), reason.strip())
        header.update({
            "created_at": now_utc(), "customer_count": 1,
            "criteria": criteria_meta(graded.blended), "reference": graded.means, "drift": [],
            "seconds": None,
            "counts": {str(g): int(c) for g, c in rows["grade"].value_counts().items()},
        })
        record, created = store.save_rating(header, rows)
        return RatingResult(record, created, {})
    finally:
        store.close()


