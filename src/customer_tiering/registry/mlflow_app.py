"""MLflow's own server app, opening a new browser on the runs table (``tiering mlflow-ui``).

MLflow 3.17's UI picks its GenAI or classic ("Model training") view from the address's
``workflowType`` or from a switch kept in the browser's storage (``mlflow.workflowType_v1``,
GenAI when absent); it does not read the experiment's ``mlflow.experimentKind`` tag, and no server
setting changes the default (mlflow/mlflow#24498; its fix, #24493, was closed unmerged). A new
browser opening the server's address therefore lands on the GenAI home page, and an experiment
opened from there on its empty GenAI overview.

This app is MLflow's (``mlflow.server.fastapi_app:app``, everything else untouched) behind one
rule: the bare address ``/`` answers with a redirect to the project's experiment's runs table in
the classic view (:func:`customer_tiering.registry.mlflow_ui.ui_url`). The redirect keeps a query
(``?view=runs``) so that the page it lands on is served as usual, and the UI's own links (hash
routes) never reach the server.
"""

from __future__ import annotations

import os
from typing import Any

from mlflow.server.fastapi_app import app as mlflow_app

from customer_tiering.registry.mlflow_ui import UI_WORKFLOW

__all__ = ["ClassicView", "app", "landing_page"]

_FOUND: dict[str, str] = {}


def landing_page(experiment_id: str | None) -> str:
    """Where the bare address sends a browser: the experiment's runs table, classic view.

    Parameters
    ----------
    experiment_id : str or None
        The project's experiment (None: not trained yet, the experiments list).

    Returns
    -------
    str
        A path with its hash route, e.g.
        ``/?view=runs#/experiments/1/runs?workflowType=machine_learning``.
    """
    route = f"/experiments/{experiment_id}/runs" if experiment_id else "/experiments"
    return f"/?view=runs#{route}?workflowType={UI_WORKFLOW}"


def _experiment_id() -> str | None:
    """The id of the project's experiment in the served store (looked up until found)."""
    if "id" not in _FOUND:
        from mlflow.server.constants import BACKEND_STORE_URI_ENV_VAR
        from mlflow.tracking import MlflowClient

        from customer_tiering.registry.tracking import DEFAULT_EXPERIMENT

        uri = os.environ.get(BACKEND_STORE_URI_ENV_VAR)
        found = MlflowClient(uri, uri).get_experiment_by_name(DEFAULT_EXPERIMENT)
        if found is None:
            return None
        _FOUND["id"] = str(found.experiment_id)
    return _FOUND["id"]


class ClassicView:
    """ASGI wrapper: ``GET /`` without a query redirects to :func:`landing_page`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
                and scope["path"] == "/" and not scope.get("query_string")):
            target = landing_page(_experiment_id()).encode()
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", target), (b"content-length", b"0"),
                                    (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.inner(scope, receive, send)


app = ClassicView(mlflow_app)
