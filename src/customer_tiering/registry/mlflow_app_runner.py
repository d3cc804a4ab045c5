"""Start MLflow's own server (``mlflow ui``'s options and defaults) with the app of
:mod:`customer_tiering.registry.mlflow_app`.

MLflow chooses another app only by ``--app-name``, from installed entry points; rather than
installing one, the server command's options are parsed as ``mlflow ui`` parses them and its app
lookup is pointed at this project's app for that one start.
"""

from __future__ import annotations

__all__ = ["APP", "run_mlflow_ui"]

APP = "customer_tiering.registry.mlflow_app:app"
_NAME = "customer-tiering"


def run_mlflow_ui(store_uri: str, *, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve the MLflow UI on ``store_uri`` until stopped (blocks).

    Parameters
    ----------
    store_uri : str
        The tracking and registry store.
    host, port
        Where to listen.
    """
    import mlflow.server
    from mlflow.cli import server

    found = mlflow.server._find_app

    def find_app(app_name: str) -> str:
        return APP if app_name == _NAME else found(app_name)

    mlflow.server._find_app = find_app
    try:
        ctx = server.make_context("mlflow ui", ["--backend-store-uri", store_uri,
                                                "--host", host, "--port", str(port),
                                                "--workers", "1"])
        ctx.params["app_name"] = _NAME
        with ctx:
            server.invoke(ctx)
    finally:
        mlflow.server._find_app = found
