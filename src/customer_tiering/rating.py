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
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.blend import BlendConfig, Blended, blend, check_blend_fits_card
from customer_tiering.columns import Columns
from customer_tiering.config_io import config_hash, load_yaml_model
from customer_tiering.errors import TieringError
from customer_tiering.explain import (
    criteria_meta,
    explanation_records,
    reason_lines,
    reference_means,
)
from customer_tiering.grading import GradeScheme, assign_grades
from customer_tiering.monitoring import drift_table
from customer_tiering.ruleset import RuleSet, load_ruleset
from customer_tiering.scorecard import score
from customer_tiering.settings import Settings
from customer_tiering.store import RatingRecord, TierStore, now_utc
from customer_tiering.train import MODEL_NAME, TrainingInputs
from customer_tiering.train_config import TrainingConfig

__all__ = [
    "ChampionSet",
    "GradedPopulation",
    "RatingResult",
    "ServingConfigs",
    "grade_cutoffs",
    "grade_population",
    "load_champions",
    "load_serving_configs",
    "rate_customers",
    "run_periodic_rating",
    "run_special_rating",
    "training_configs",
]

Step = Callable[[str], None]
Progress = Callable[[int, int], None]
_ROWS_PER_CHUNK = 50_000  # customers explained and written at a time (bounded memory)


@dataclass(frozen=True)
class ServingConfigs:
    """Scorecard, grade schemes, policies and blend, validated together, with their hashes."""

    rules: RuleSet
    blend: BlendConfig

    @property
    def hashes(self) -> dict[str, str]:
        return {**self.rules.hashes, "blend": config_hash(self.blend)}

    @property
    def versions(self) -> dict[str, str]:
        return {"scorecard": self.rules.card.version, "grades": self.rules.grades.version,
                "policies": self.rules.policies.version, "blend": self.blend.version}


def load_serving_configs(config_dir: str | os.PathLike[str]) -> ServingConfigs:
    """Load ``scorecard.yaml``, ``grades.yaml``, ``policies.yaml`` and ``blend.yaml``.

    Raises
    ------
    ConfigError
        Naming the file, field and line; also when the blend's parts do not add up to its total.
    """
    base = Path(config_dir)
    rules = load_ruleset(base)
    blend_path = base / "blend.yaml"
    blend_cfg = load_yaml_model(blend_path, BlendConfig)
    check_blend_fits_card(blend_cfg, rules.card, str(blend_path))
    return ServingConfigs(rules, blend_cfg)


def training_configs(config_dir: str | os.PathLike[str], horizon_days: int | None = None
                     ) -> dict[str, TrainingConfig]:
    """The training configs the champions must have been trained with.

    ``horizon_days`` overrides the churn and value label horizon (as ``tiering train
    --horizon-days`` does), which changes their config hash.
    """
    base = Path(config_dir)
    out = {job: load_yaml_model(base / f"{job}.yaml", TrainingConfig)
           for job in ("segments", "churn", "value")}
    if horizon_days is not None:
        for job in ("churn", "value"):
            cfg = out[job]
            out[job] = cfg.model_copy(update={"data": cfg.data.model_copy(
                update={"horizon_days": horizon_days})})
    return out


@dataclass(frozen=True)
class ChampionSet:
    """The champion models used by a rating (``None`` where the blend does not need one)."""

    segments: Any
    churn: Any
    value: Any
    versions: dict[str, dict[str, str]]
    horizon_days: int
    active_within_days: int | None = None


def load_champions(settings: Settings, configs: ServingConfigs, *,
                   horizon_days: int | None = None) -> ChampionSet:
    """Load ``models:/<name>@champion`` for segments and the models the blend uses.

    Raises
    ------
    NoChampionError
        When a needed model has no champion (train it first: ``tiering train all``).
    ModelMismatchError
        When a champion was trained with another config (e.g. another horizon).
    """
    from customer_tiering.registry import load_champion

    train_cfgs = training_configs(settings.training_config_dir, horizon_days)
    needed = {"segments": True, "churn": configs.blend.retention is not None,
              "value": configs.blend.value is not None}
    loaded: dict[str, Any] = {}
    versions: dict[str, dict[str, str]] = {}
    for job, wanted in needed.items():
        if not wanted:
            loaded[job] = None
            continue
        champion = load_champion(MODEL_NAME[job], settings=settings,
                                 expected_config_hash=config_hash(train_cfgs[job]))
        loaded[job] = champion.model
        versions[MODEL_NAME[job]] = {"version": champion.version, "run_id": champion.run_id,
                                     "config_hash": champion.config_hash or ""}
    plan = train_cfgs["churn"].data
    return ChampionSet(loaded["segments"], loaded["churn"], loaded["value"], versions,
                       plan.horizon_days, plan.active_within_days)


@dataclass(frozen=True)
class RatingResult:
    """A stored rating and whether this call created it."""

    record: RatingRecord
    created: bool
    seconds: dict[str, float]


@dataclass(frozen=True)
class GradedPopulation:
    """Every customer's points, total and grade (phase 1); rows are made by :meth:`rows`."""

    features: Columns
    blended: Blended
    grade: np.ndarray
    previous: np.ndarray
    churn_probability: np.ndarray | None
    expected_value: np.ndarray | None
    means: dict[str, float]

    def __len__(self) -> int:
        return len(self.grade)

    def rows(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Grade rows (:data:`store_tables.GRADE_COLUMNS`) of customers ``start:stop``.

        The explanation documents and reasons are built here, slice by slice, so a million
        customers never hold a million JSON documents in memory at once.
        """
        part = slice(start, len(self) if stop is None else stop)
        blended = self.blended.subset(part)
        features = self.features.take(part)
        n = len(blended.customer_id)
        reasons_zh, reasons_en = reason_lines(blended, self.means)

        def column(name: str) -> Any:
            return features.get(name, None)

        nan = np.full(n, np.nan)
        return pd.DataFrame({
            "customer_id": blended.customer_id,
            "customer_name": column("customer_name"),
            "region": column("region"),
            "customer_type": column("customer_type"),
            "segment": blended.segment,
            "churn_probability": (nan if self.churn_probability is None
                                  else self.churn_probability[part]),
            "expected_value": nan if self.expected_value is None else self.expected_value[part],
            "revenue_365d": features.numeric("monetary_amount_365d"),
            "scorecard_total": blended.scorecard_points.sum(axis=1),
            "total": blended.total,
            "grade": self.grade[part],
            "previous_grade": self.previous[part],
            "provisional": blended.scorecard.provisional,
            "points": _points_documents(blended),
            "explanation": explanation_records(blended, features),
            "reason_zh": reasons_zh,
            "reason_en": reasons_en,
        })


def grade_population(
    features: pd.DataFrame | Columns,
    configs: ServingConfigs,
    models: ChampionSet,
    *,
    scheme: GradeScheme,
    previous_grade: pd.Series | None = None,
    cutoffs: dict[str, float] | None = None,
    means: dict[str, float] | None = None,
) -> GradedPopulation:
    """Score, blend and grade every customer of ``features`` (pure: no store, no MLflow).

    Parameters
    ----------
    features : one row per customer (``customer_id`` + feature columns), a frame or columns.
    scheme : the grade scheme to apply (quota schemes rank the whole population here).
    previous_grade : last periodic grade by ``customer_id`` (hysteresis, ``previous_grade``).
    cutoffs : lowest total per grade (best first) to grade against instead of the scheme's own
        method (special ratings under a quota scheme).
    means : reference mean points per criterion for the reasons (default: this population's).
    """
    features = Columns.of(features)  # each column taken from a frame once, for every step
    scores = score(features, configs.rules.card)
    churn_contrib = value_contrib = None
    churn_probability = expected_value = None
    if models.churn is not None:
        churn_contrib = models.churn.calibrated_contributions(features)
        churn_probability = 1.0 / (1.0 + np.exp(-churn_contrib.to_numpy().sum(axis=1)))
    if models.value is not None:
        value_contrib = models.value.contributions(features)
        expected_value = np.exp(value_contrib.to_numpy().sum(axis=1))
    segment = (models.segments.predict_names(features) if models.segments is not None else None)
    blended = blend(scores, configs.blend, churn_contributions=churn_contrib,
                    value_contributions=value_contrib, segment=segment,
                    horizon_days=models.horizon_days)
    del churn_contrib, value_contrib
    total = blended.total
    ids = blended.customer_id
    previous = (previous_grade.reindex(ids).to_numpy(dtype=object)
                if previous_grade is not None else np.full(len(ids), None, dtype=object))
    if cutoffs is not None:
        grade = _grade_by_cutoffs(total, cutoffs, scheme)
    else:
        revenue = None
        if scheme.method == "revenue_quota":
            revenue = features.numeric(scheme.revenue_feature)
        grade = assign_grades(total, scheme, customer_id=ids, revenue=revenue,
                              previous_grade=previous if previous_grade is not None else None)
    reference = means if means is not None else reference_means(blended)
    return GradedPopulation(features, blended, np.asarray(grade, dtype=object), previous,
                            churn_probability, expected_value, reference)


def rate_customers(
    features: pd.DataFrame | Columns,
    configs: ServingConfigs,
    models: ChampionSet,
    *,
    scheme: GradeScheme,
    previous_grade: pd.Series | None = None,
    cutoffs: dict[str, float] | None = None,
    means: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, Blended, dict[str, float]]:
    """Grade and explain every customer of ``features`` at once (small populations, what-ifs).

    Returns
    -------
    (rows, blended, means): ``rows`` has :data:`store_tables.GRADE_COLUMNS`.
    """
    graded = grade_population(features, configs, models, scheme=scheme,
                              previous_grade=previous_grade, cutoffs=cutoffs, means=means)
    return graded.rows(), graded.blended, graded.means


def _grade_by_cutoffs(total: np.ndarray, cutoffs: dict[str, float], scheme: GradeScheme
                      ) -> np.ndarray:
    out = np.full(len(total), scheme.grade_ids[-1], dtype=object)
    assigned = np.zeros(len(total), dtype=bool)
    for gid in scheme.grade_ids:
        if gid not in cutoffs:
            continue
        hit = ~assigned & (total >= cutoffs[gid])
        out[hit] = gid
        assigned |= hit
    return out


def _points_documents(blended: Blended) -> list[str]:
    """Per customer ``{criterion or model part: points}`` as JSON (the export's columns)."""
    names = [c.id for c in blended.scorecard.card.criteria]
    columns = [blended.scorecard_points[:, j] for j in range(len(names))]
    for name, part in blended.models.items():
        names.append(name)
        columns.append(part.points)
    if blended.segment_points is not None:
        names.append("segment")
        columns.append(blended.segment_points)
    if not columns:
        return ["{}"] * len(blended.customer_id)
    import orjson

    matrix = np.column_stack(columns).tolist()
    return [orjson.dumps(dict(zip(names, row, strict=True))).decode() for row in matrix]


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
    for name, model in (("tiering-churn", models.churn), ("tiering-value", models.value)):
        profiles = getattr(model, "reference_profile_", None) if model is not None else None
        if profiles:
            tables.append(drift_table(profiles, frame, source=name))
    if not tables:
        return []
    table = pd.concat(tables, ignore_index=True)
    return [{"source": str(r["source"]), "column": str(r["column"]), "psi": float(r["psi"]),
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
        "configs": {"versions": configs.versions, "hashes": configs.hashes},
        "models": models.versions,
        "grade_labels": {g.id: {"zh": g.label.zh, "en": g.label.en} for g in scheme.grades},
        "policies": {g: p.model_dump(mode="json") for g, p in policies.items()},
    }


def _inputs_and_fingerprint(data_dir: Path) -> tuple[TrainingInputs, str]:
    """The data set and a hash of its files' bytes (streamed: constant memory at any size)."""
    import hashlib

    inputs = TrainingInputs.from_dir(data_dir)
    digest = hashlib.sha256(b"files-v1")
    for name, path in sorted(inputs.paths().items()):
        digest.update(name.encode())
        with Path(path).open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return inputs, f"files-v1:{digest.hexdigest()}"


def _features(inputs: TrainingInputs, as_of: date) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from customer_tiering.features import compute_features

    features = compute_features(inputs.transactions, inputs.customers, inputs.interactions,
                                as_of=as_of)
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
    clock: dict[str, float] = {}
    started = last = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        clock[stage] = now - last
        last = now

    configs = load_serving_configs(settings.config_dir)
    scheme_name = scheme or configs.rules.grades.default_scheme
    chosen = configs.rules.scheme(scheme_name)
    say("loading the champion models")
    models = load_champions(settings, configs, horizon_days=horizon_days)
    lap("models")
    say("fingerprinting the data")
    inputs, fingerprint = _inputs_and_fingerprint(Path(data_dir))
    header = _header("periodic", as_of, scheme_name, configs, models, fingerprint, None, None)
    store = TierStore.open(settings.tier_store_url())
    try:
        existing = store.rating_by_key(header["rating_key"])
        if existing is not None:
            return RatingResult(existing, False, clock)
        lap("fingerprint")
        say(f"computing features as of {as_of}")
        features = _features(inputs, as_of)
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
        lap("drift")
        header.update({
            "created_at": now_utc(), "customer_count": len(graded),
            "criteria": criteria_meta(graded.blended), "reference": graded.means, "drift": drift,
            "counts": {str(g): int(c) for g, c in
                       pd.Series(graded.grade).value_counts().items()},
        })
        header["seconds"] = time.perf_counter() - started
        say(f"explaining and storing {len(graded):,} grades")
        chunks = (graded.rows(start, start + _ROWS_PER_CHUNK)
                  for start in range(0, len(graded), _ROWS_PER_CHUNK))
        record, created = store.save_rating(header, chunks, total=len(graded),
                                            progress=progress)
        lap("explain_and_store")
        return RatingResult(record, created, clock)
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
) -> RatingResult:
    """Re-grade one customer now (特殊评级) and store it as a rating of kind ``special``.

    ``as_of`` defaults to the latest order date in the data ("now" as the data knows it).
    """
    say = step or (lambda _m: None)
    if not reason.strip():
        raise TieringError("a special rating needs a reason (--reason)")
    configs = load_serving_configs(settings.config_dir)
    scheme_name = scheme or configs.rules.grades.default_scheme
    chosen = configs.rules.scheme(scheme_name)
    models = load_champions(settings, configs, horizon_days=horizon_days)
    inputs, fingerprint = _inputs_and_fingerprint(Path(data_dir))
    if as_of is None:
        latest = pd.read_parquet(inputs.transactions, columns=["order_date"])["order_date"].max()
        as_of = pd.Timestamp(latest).date()
    store = TierStore.open(settings.tier_store_url())
    try:
        say(f"computing features of {customer_id} as of {as_of}")
        features = _features(inputs, as_of)
        one = features[features["customer_id"] == str(customer_id)].reset_index(drop=True)
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
        previous_grade = None
        try:
            before = store.customer_grade(str(customer_id))
            previous_grade = pd.Series([before["grade"]], index=[str(customer_id)])
        except TieringError:
            pass
        rows, blended, means = rate_customers(
            one, configs, models, scheme=chosen, previous_grade=previous_grade, cutoffs=cutoffs,
            means=last.reference if last is not None else None)
        header = _header("special", as_of, scheme_name, configs, models, fingerprint,
                         str(customer_id), reason.strip())
        header.update({
            "created_at": now_utc(), "customer_count": 1, "criteria": criteria_meta(blended),
            "reference": means, "drift": [], "seconds": None,
            "counts": {str(g): int(c) for g, c in rows["grade"].value_counts().items()},
        })
        record, created = store.save_rating(header, rows)
        return RatingResult(record, created, {})
    finally:
        store.close()


def grade_cutoffs(store: TierStore, rating_id: int) -> dict[str, float]:
    """The lowest total each grade held in a rating: what a lone customer is graded against
    under a quota scheme."""
    frame = store.grades(rating_id, columns=["grade", "total"])
    return {str(g): float(t) for g, t in frame.groupby("grade")["total"].min().items()}
