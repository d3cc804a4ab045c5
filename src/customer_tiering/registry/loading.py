"""Load a registered model version by its alias: what serving, the rating and re-scoring read.

Serving loads ``models:/<name>@champion`` and nothing else; registering versions and moving the
aliases is :mod:`customer_tiering.registry.versions`. :func:`load_champion` also checks that the
champion was trained with the config in use (the version's ``config_hash`` tag).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import mlflow

from customer_tiering.core.errors import ModelMismatchError, TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.registry.store_paths import check_reachable
from customer_tiering.registry.tracking import use_store
from customer_tiering.registry.versions import CHAMPION, NoChampionError, _alias_version

__all__ = ["BrokenModelError", "Champion", "load_champion", "load_version"]


class BrokenModelError(TieringError):
    """A registered version whose artifact cannot be loaded (truncated, deleted, unreadable)."""


@dataclass(frozen=True)
class Champion:
    """A loaded model and where it came from."""

    model: Any
    name: str
    version: str
    run_id: str
    config_hash: str | None


def load_version(
    name: str,
    *,
    settings: Settings,
    alias: str = CHAMPION,
    flavor: Literal["sklearn", "pyfunc"] = "sklearn",
) -> Champion:
    """Load ``models:/<name>@<alias>`` without checking its config (e.g. to re-score it).

    Parameters
    ----------
    name : str
        One of :data:`~customer_tiering.registry.names.MODEL_NAMES`.
    settings : Settings
        ``mlflow_uri`` is the registry read.
    alias : str
        The alias to load, e.g. ``champion`` or ``challenger``.
    flavor : {"sklearn", "pyfunc"}
        How the model is loaded: the fitted estimator, or MLflow's pyfunc wrapper.

    Returns
    -------
    Champion
        The model with its version, run and ``config_hash`` tag.

    Raises
    ------
    NoChampionError
        If no version of ``name`` has the alias.
    MissingModelStoreError
        If the SQLite store named by ``settings`` does not exist (it is not created).
    BrokenModelError
        If the version's artifact cannot be loaded; names the artifact.
    TieringError
        If the version's artifacts are recorded relative to another working directory.
    """
    with use_store(settings, create=False) as client:
        found = _alias_version(client, name, alias)
        if found is None:
            raise NoChampionError(f"model {name!r} has no version with alias {alias!r}")
        check_reachable(settings.mlflow_uri,
                        client.get_model_version_download_uri(name, str(found.version)),
                        f"model {name!r} version {found.version}")
        uri = f"models:/{name}@{alias}"
        loader = mlflow.sklearn.load_model if flavor == "sklearn" else mlflow.pyfunc.load_model
        try:
            model = loader(uri)
        except Exception as exc:  # whatever broke, the message must name the artifact
            where = client.get_model_version_download_uri(name, str(found.version))
            raise BrokenModelError(
                f"model {name!r} version {found.version} ({alias}): its artifact {where} cannot "
                f"be loaded ({type(exc).__name__}: {exc}); restore the files, or give the alias "
                f"back to the version before (`tiering rollback {name} --reason ...`)") from exc
    return Champion(
        model=model,
        name=name,
        version=str(found.version),
        run_id=str(found.run_id),
        config_hash=found.tags.get("config_hash"),
    )


def load_champion(
    name: str,
    *,
    settings: Settings,
    expected_config_hash: str,
    flavor: Literal["sklearn", "pyfunc"] = "sklearn",
) -> Champion:
    """Load ``models:/<name>@champion`` and check it was trained with the expected config.

    Parameters
    ----------
    name : str
        One of :data:`~customer_tiering.registry.names.MODEL_NAMES`.
    settings : Settings
        ``mlflow_uri`` is the registry read.
    expected_config_hash : str
        The hash of the config in use; the champion's ``config_hash`` tag must equal it.
    flavor : {"sklearn", "pyfunc"}
        How the model is loaded: the fitted estimator, or MLflow's pyfunc wrapper.

    Returns
    -------
    Champion

    Raises
    ------
    NoChampionError
        If no version of ``name`` is champion.
    ModelMismatchError
        If the version's ``config_hash`` tag differs from ``expected_config_hash``.
    """
    champion = load_version(name, settings=settings, alias=CHAMPION, flavor=flavor)
    if champion.config_hash != expected_config_hash:
        raise ModelMismatchError(
            f"model {name!r} champion version {champion.version} was trained with config hash "
            f"{champion.config_hash}, but the config in use hashes to {expected_config_hash}; "
            "retrain, or promote a version trained with this config"
        )
    return champion
