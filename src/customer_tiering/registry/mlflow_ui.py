"""How people open the project's MLflow store: the classic ML view, named runs, links that land.

The training experiment is tagged ``mlflow.experimentKind = custom_model_development`` (the classic
ML kind, from which earlier MLflow 3 UIs chose the runs table rather than the GenAI pages) and
carries a note saying what its runs are (:data:`EXPERIMENT_TAGS`); both are set again whenever
training opens it (:func:`customer_tiering.registry.tracking.ensure_experiment`).

MLflow 3.17's UI no longer reads that tag: the kind comes from a switch in the browser ("GenAI" /
"Model training", stored per browser and GenAI in a new one) or from the page address, and an
experiment opened without one lands on the GenAI overview and traces, empty for this project. So
every link the project prints or shows (:func:`ui_url`, :func:`ui_command`) carries
``workflowType=machine_learning`` and opens on the runs table.

Runs are named ``<job>-h<horizon days>-<as_of>`` (:func:`run_name`), e.g. ``churn-h90-2025-12-31``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from customer_tiering.core.settings import Settings

__all__ = ["EXPERIMENT_TAGS", "UI_WORKFLOW", "horizons", "run_name", "ui_command", "ui_url"]

EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": (
        "Training runs of customer-tiering: one run per job (segments, churn, value; `all` nests "
        "the three), named `<job>-h<horizon days>-<as_of>`, with metrics beside the baselines, "
        "the model card and figures. Each run registers a version of `tiering-<job>`; the "
        "version that serves is the registry's `champion` alias (Model registry), moved by the "
        "promotion gate, `tiering promote` and `tiering rollback`."),
}
"""Set on the experiment whenever training opens it: the classic ML kind, and what it holds."""

UI_WORKFLOW = "machine_learning"
"""The MLflow UI's "Model training" view (its ``workflowType``): runs, models, the registry."""


def ui_url(ui_base: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment's runs table, or of one run, in the classic ML view.

    Parameters
    ----------
    ui_base : str
        Where the MLflow UI runs (``Settings.mlflow_ui_url``), e.g. ``http://127.0.0.1:5000``.
    experiment_id : str
        The experiment.
    run_id : str, optional
        A run of it; without one, the runs table.

    Returns
    -------
    str
        E.g. ``http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning``.
    """
    page = f"/#/experiments/{experiment_id}/runs" + (f"/{run_id}" if run_id else "")
    return f"{ui_base.rstrip('/')}{page}?workflowType={UI_WORKFLOW}"


def ui_command(settings: Settings, experiment_id: str) -> str:
    """How to look at the runs: the ``mlflow ui`` command for the store, then the page to open.

    Parameters
    ----------
    settings : Settings
        ``mlflow_uri`` and ``mlflow_ui_url`` (its port) are used.
    experiment_id : str
        The experiment whose runs table to open.

    Returns
    -------
    str
        One line to print.
    """
    port = urlparse(settings.mlflow_ui_url).port or 5000
    return (f"mlflow ui --backend-store-uri {settings.mlflow_uri} --port {port}, then open "
            f"{ui_url(settings.mlflow_ui_url, experiment_id)}")


def run_name(job: str, as_of: date | str, horizon_days: int | Iterable[int] | None = None) -> str:
    """A run's name: job, label horizon and as_of, e.g. ``churn-h90-2025-12-31``.

    Parameters
    ----------
    job : str
        ``segments``, ``churn``, ``value`` or ``all``.
    as_of : date or str
        The snapshot date.
    horizon_days : int or several, optional
        The label horizon in days (``all`` may hold two: ``all-h60-h90-2025-12-31``).

    Returns
    -------
    str
    """
    text = as_of.isoformat() if isinstance(as_of, date | datetime) else str(as_of)
    return "-".join([job, *(f"h{h}" for h in horizons(horizon_days)), text])


def horizons(horizon_days: int | Iterable[int] | None) -> list[int]:
    """The label horizons in days, sorted and once each (none for ``None``)."""
    if horizon_days is None:
        return []
    return [horizon_days] if isinstance(horizon_days, int) else sorted(set(horizon_days))
