"""The champion models and the serving configs a rating or a what-if uses.

``load_serving_configs`` validates the scorecard, grade schemes, policies and blend together;
``load_champions`` loads the ``champion`` alias of each model the blend needs and checks that it
was trained with the training config in use (the same horizon, features and plan).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from customer_tiering.core.config_io import config_hash, load_yaml_model
from customer_tiering.core.settings import Settings
from customer_tiering.models.spec import TrainingConfig
from customer_tiering.registry.names import JOBS, MODEL_NAME, needed_jobs
from customer_tiering.scoring.blend import BlendConfig, check_blend_fits_card
from customer_tiering.scoring.ruleset import RuleSet, load_ruleset

__all__ = [
    "ChampionSet",
    "ServingConfigs",
    "load_champions",
    "load_serving_configs",
    "training_configs",
]


@dataclass(frozen=True)
class ServingConfigs:
    """Scorecard, grade schemes, policies and blend, validated together, with their hashes."""

    rules: RuleSet
    blend: BlendConfig

    @property
    def hashes(self) -> dict[str, str]:
        """The content hash of each config: ``scorecard``, ``grades``, ``policies``, ``blend``."""
        return {**self.rules.hashes, "blend": config_hash(self.blend)}

    @property
    def versions(self) -> dict[str, str]:
        """The declared ``version`` of each config file."""
        return {"scorecard": self.rules.card.version, "grades": self.rules.grades.version,
                "policies": self.rules.policies.version, "blend": self.blend.version}


def load_serving_configs(config_dir: str | os.PathLike[str]) -> ServingConfigs:
    """Load ``scorecard.yaml``, ``grades.yaml``, ``policies.yaml`` and ``blend.yaml``.

    Parameters
    ----------
    config_dir : str or os.PathLike
        The serving config folder.

    Returns
    -------
    ServingConfigs

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

    Parameters
    ----------
    config_dir : str or os.PathLike
        The training config folder (``segments.yaml``, ``churn.yaml``, ``value.yaml``).
    horizon_days : int, optional
        Overrides the churn and value label horizon (as ``tiering train --horizon-days``
        does), which changes their config hash.

    Returns
    -------
    dict of str to TrainingConfig
        By job.

    Raises
    ------
    ConfigError
        Naming the file, field and line of the first problem.
    """
    base = Path(config_dir)
    out = {job: load_yaml_model(base / f"{job}.yaml", TrainingConfig)
           for job in JOBS}
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

    Parameters
    ----------
    settings : Settings
        Where the MLflow store and the training configs are.
    configs : ServingConfigs
        The serving configs (the blend says which models are needed).
    horizon_days : int, optional
        The label horizon the champions must have been trained for (default: the training
        config's).

    Returns
    -------
    ChampionSet

    Raises
    ------
    NoChampionError
        When a needed model has no champion (train it first: ``tiering train all``).
    ModelMismatchError
        When a champion was trained with another config (e.g. another horizon).
    """
    from customer_tiering.registry.loading import load_champion

    train_cfgs = training_configs(settings.training_config_dir, horizon_days)
    needed = needed_jobs(configs.blend)
    loaded: dict[str, Any] = {}
    versions: dict[str, dict[str, str]] = {}
    for job, wanted in needed.items():
        if not wanted:
            loaded[job] = None
            continue
        champion = load_champion(MODEL_NAME[job], settings=settings,
                                 expected_config_hash=config_hash(train_cfgs[job]))
        loaded[job] = champion.model
        warm = getattr(champion.model, "warm_up", None)
        if callable(warm):  # explanation tables and compiled kernel now, not in the first rating
            warm()
        versions[MODEL_NAME[job]] = {"version": champion.version, "run_id": champion.run_id,
                                     "config_hash": champion.config_hash or ""}
    plan = train_cfgs["churn"].data
    return ChampionSet(loaded["segments"], loaded["churn"], loaded["value"], versions,
                       plan.horizon_days, plan.active_within_days)
