"""MLflow model registry: register versions, gate promotion, and move the ``champion`` alias.

Serving loads ``models:/<name>@champion`` and nothing else: no registry stages (deprecated in
MLflow 3) and no file paths. A new version becomes ``champion`` only when the promotion gate passes
(it beats the current champion *and* every baseline by the configured margin); otherwise it becomes
``challenger``. People move the alias with :func:`promote` and :func:`rollback`.

The record is kept as model-version tags, so the MLflow UI shows it beside the version:

- ``config_hash``: hash of the validated training config (checked by
  :func:`customer_tiering.registry.loading.load_champion`);
- ``gate.passed``, ``gate.metric``, ``gate.reasons``, ``gate.at``: the gate's decision;
- ``champion.previous_version``, ``champion.reason``, ``champion.by``, ``champion.at``: set on a
  version when it becomes champion (by the gate or by hand). :func:`rollback` follows
  ``champion.previous_version`` back, so repeated rollbacks walk the promotion history;
- ``rolled_back.to``, ``rolled_back.reason``, ``rolled_back.by``, ``rolled_back.at``: set on a
  version when it is rolled back from.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from customer_tiering.core.errors import TieringError
from customer_tiering.registry.gate import GateDecision, promotion_gate
from customer_tiering.registry.names import MODEL_NAMES

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateDecision",
    "NoChampionError",
    "RegisteredVersion",
    "apply_gate",
    "champion_version",
    "log_and_register",
    "promote",
    "promotion_gate",
    "rollback",
]

CHAMPION = "champion"
CHALLENGER = "challenger"

_ARTIFACT_NAME = "model"
# What a logged model needs to be loaded elsewhere. Listed rather than inferred: MLflow's
# inference loads the model in a subprocess (seconds per model) and still misses LightGBM inside
# our estimators. customer-tiering itself must be installed where the model is loaded.
_MODEL_REQUIREMENTS = ("scikit-learn", "lightgbm", "numpy", "pandas", "scipy", "cloudpickle")


class NoChampionError(TieringError):
    """A registered model has no version with the alias needed (champion or previous champion)."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version just logged and registered."""

    name: str
    version: str
    model_uri: str
    run_id: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise TieringError(f"model name {name!r}: must be one of {', '.join(MODEL_NAMES)}")


# --- logging and registering -------------------------------------------------------------------


def log_and_register(
    model: Any,
    name: str,
    *,
    X_example: pd.DataFrame,
    flavor: Literal["sklearn", "pyfunc"] = "sklearn",
    predict_fn: str = "predict",
    config_hash: str | None = None,
    artifact_name: str = _ARTIFACT_NAME,
    tags: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log a fitted model on the active run and register it as a new version of ``name``.

    Parameters
    ----------
    model : estimator or mlflow.pyfunc.PythonModel
        A fitted sklearn-contract estimator (``flavor="sklearn"``) or a PythonModel (``"pyfunc"``).
    name : str
        One of :data:`MODEL_NAMES`.
    X_example : DataFrame
        A few feature rows (the contract's FEATURE_COLUMNS). The signature is inferred
        from it and the model's output on it; its first 5 rows are stored as the input example.
    flavor : {"sklearn", "pyfunc"}
        How the model is logged.
    predict_fn : str
        Method the pyfunc wrapper calls for ``predict`` (sklearn flavor), e.g. ``"predict_proba"``
        for a churn classifier whose output is a probability.
    config_hash : str, optional
        Recorded as the version tag ``config_hash``; by default the active run's ``config_hash``
        tag set by :func:`customer_tiering.registry.tracking.job_run`.
    artifact_name : str
        The artifact folder in the run (a run that registers two scorers needs two names).
    tags : mapping, optional
        More version tags (which kind of scorer it is, what it learnt from).

    Returns
    -------
    RegisteredVersion

    Raises
    ------
    TieringError
        If ``name`` is unknown, no run is active, or no config hash is given or tagged on the run.
    """
    _check_name(name)
    run = mlflow.active_run()
    if run is None:
        raise TieringError("log_and_register must be called inside tracking.job_run(...)")
    run_id = run.info.run_id
    client = MlflowClient()
    if config_hash is None:
        config_hash = client.get_run(run_id).data.tags.get("config_hash")
    if config_hash is None:
        raise TieringError(f"run {run_id} has no config_hash tag; pass config_hash=")

    example = X_example.head(5)
    if flavor == "sklearn":
        output = getattr(model, predict_fn)(X_example)
    else:
        output = model.predict(None, X_example)
    signature = infer_signature(X_example, output)
    requirements = [f"{p}=={metadata.version(p)}" for p in _MODEL_REQUIREMENTS]
    common: dict[str, Any] = {"name": artifact_name, "signature": signature,
                              "input_example": example, "registered_model_name": name,
                              "pip_requirements": requirements}
    if flavor == "sklearn":
        # MLflow 3 defaults to skops, which refuses types it does not know (our estimators,
        # LightGBM boosters) unless each is listed as trusted; the store holds only models we
        # trained, so cloudpickle is the fitting format.
        info = mlflow.sklearn.log_model(sk_model=model, pyfunc_predict_fn=predict_fn,
                                        serialization_format="cloudpickle", **common)
    else:
        info = mlflow.pyfunc.log_model(python_model=model, **common)
    version = str(info.registered_model_version)
    client.set_model_version_tag(name, version, "config_hash", config_hash)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, value)
    return RegisteredVersion(name=name, version=version, model_uri=info.model_uri, run_id=run_id)


# --- aliases -----------------------------------------------------------------------------------


def _alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST) or "alias" in str(exc):
            return None
        raise


def _get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        raise TieringError(f"model {name!r} has no version {version}") from exc


def champion_version(client: MlflowClient, name: str) -> str | None:
    """The version number that carries the ``champion`` alias, or ``None``.

    Parameters
    ----------
    client : MlflowClient
        A client bound to the registry (see :func:`customer_tiering.registry.tracking.use_store`).
    name : str
        One of :data:`MODEL_NAMES`.

    Returns
    -------
    str or None
        ``None`` when the model has no champion (or is not registered yet).
    """
    found = _alias_version(client, name, CHAMPION)
    return None if found is None else str(found.version)


def _make_champion(
    client: MlflowClient, name: str, version: str, *, reason: str, user: str
) -> None:
    previous = champion_version(client, name)
    if previous == version:
        raise TieringError(f"version {version} of {name!r} is already the champion")
    tags = {"champion.reason": reason, "champion.by": user, "champion.at": _now()}
    if previous is not None:
        tags["champion.previous_version"] = previous
    elif "champion.previous_version" in _get_version(client, name, version).tags:
        # A stale predecessor from an earlier promotion would make rollback jump to it.
        client.delete_model_version_tag(name, version, "champion.previous_version")
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
    challenger = _alias_version(client, name, CHALLENGER)
    if challenger is not None and str(challenger.version) == version:
        client.delete_registered_model_alias(name, CHALLENGER)


def apply_gate(client: MlflowClient, name: str, version: str, decision: GateDecision, *,
               crown_reason: str | None = None) -> str:
    """Record the gate's decision on the version and set its alias; return the alias set.

    ``champion`` when the decision passed (the old champion is recorded for :func:`rollback`) or
    when ``crown_reason`` says why it serves all the same (the best scorer of the run, see
    :mod:`customer_tiering.training.selection`); ``challenger`` otherwise (the champion does not
    move).

    Parameters
    ----------
    client : MlflowClient
        A client bound to the registry (see :func:`customer_tiering.registry.tracking.use_store`).
    name : str
        One of :data:`MODEL_NAMES`.
    version : str
        The version the decision is about.
    decision : GateDecision
        The promotion gate's decision (:func:`promotion_gate`); recorded as ``gate.*`` tags.
    crown_reason : str, optional
        Why the version becomes champion although the gate failed; recorded as
        ``champion.reason``.

    Returns
    -------
    str
        :data:`CHAMPION` or :data:`CHALLENGER`.

    Raises
    ------
    TieringError
        If ``name`` is unknown, the version does not exist, or it is made champion while it
        already is.
    """
    _check_name(name)
    version = str(version)
    _get_version(client, name, version)
    tags = {
        "gate.passed": str(decision.passed).lower(),
        "gate.metric": decision.metric,
        "gate.reasons": "\n".join(decision.reasons),
        "gate.at": _now(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if decision.passed or crown_reason is not None:
        _make_champion(client, name, version, user="gate",
                       reason="promotion gate passed" if decision.passed else str(crown_reason))
        return CHAMPION
    client.set_registered_model_alias(name, CHALLENGER, version)
    return CHALLENGER


def promote(
    client: MlflowClient, name: str, version: str | int, *, reason: str, user: str | None = None
) -> str | None:
    """Make ``version`` the champion by hand; return the version it replaced (or ``None``).

    The reason, who and when, and the previous champion are recorded as tags on the version.

    Parameters
    ----------
    client : MlflowClient
        A client bound to the registry (see :func:`customer_tiering.registry.tracking.use_store`).
    name : str
        One of :data:`MODEL_NAMES`.
    version : str or int
        The version to promote.
    reason : str
        Why; must not be blank (kept as ``champion.reason``).
    user : str, optional
        Who; by default the login name.

    Returns
    -------
    str or None
        The version that was champion before, or ``None`` when there was none.

    Raises
    ------
    TieringError
        If ``name`` is unknown, ``reason`` is blank, the version does not exist, or it already is
        the champion.
    """
    _check_name(name)
    if not reason.strip():
        raise TieringError("promote: give a --reason; it is kept with the version")
    version = str(version)
    _get_version(client, name, version)
    previous = champion_version(client, name)
    _make_champion(client, name, version, reason=reason.strip(), user=user or getpass.getuser())
    return previous


def rollback(
    client: MlflowClient, name: str, *, reason: str = "rollback", user: str | None = None
) -> str:
    """Give ``champion`` back to the version that held it before the current one; return it.

    Parameters
    ----------
    client : MlflowClient
        A client bound to the registry (see :func:`customer_tiering.registry.tracking.use_store`).
    name : str
        One of :data:`MODEL_NAMES`.
    reason : str
        Why; kept as ``rolled_back.reason`` on the version rolled back from.
    user : str, optional
        Who; by default the login name.

    Returns
    -------
    str
        The version that is champion now.

    Raises
    ------
    NoChampionError
        If there is no champion or the champion has no recorded predecessor.
    TieringError
        If ``name`` is unknown or the recorded predecessor no longer exists.
    """
    _check_name(name)
    current = _alias_version(client, name, CHAMPION)
    if current is None:
        raise NoChampionError(f"model {name!r} has no champion to roll back")
    previous = current.tags.get("champion.previous_version")
    if previous is None:
        raise NoChampionError(
            f"model {name!r}: champion version {current.version} has no previous champion recorded"
        )
    _get_version(client, name, previous)
    tags = {
        "rolled_back.to": previous,
        "rolled_back.reason": reason,
        "rolled_back.by": user or getpass.getuser(),
        "rolled_back.at": _now(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, str(current.version), key, value)
    client.set_registered_model_alias(name, CHAMPION, previous)
    return previous
