"""The models page: champions and challengers with their metrics and the figures their runs logged."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import Response

from customer_tiering.api.deps import State
from customer_tiering.core.settings import Settings
from customer_tiering.i18n import catalogue as i18n
from customer_tiering.store.keys import ApiKey
from customer_tiering.web.page_kit import (
    PathText,
    gate,
    page_lang,
    render,
    router,
)

__all__ = ["model_plot", "models_page"]

_PLOTS = ("calibration_curve", "capture_curve", "shap_summary")



@router.get("/models", response_model=None)
def models_page(request: Request, state: State) -> Response:
    user = gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    from mlflow.exceptions import MlflowException

    from customer_tiering.registry.mlflow_ui import ui_url
    from customer_tiering.registry.names import MODEL_NAMES
    from customer_tiering.registry.tracking import use_store
    from customer_tiering.registry.versions import CHALLENGER, CHAMPION

    lang = page_lang(request)
    shown = []
    with use_store(state.settings) as client:
        for name in MODEL_NAMES:
            for alias in (CHAMPION, CHALLENGER):
                try:
                    version = client.get_model_version_by_alias(name, alias)
                except MlflowException:  # no such model or alias yet: nothing to show
                    continue
                run_id = str(version.run_id)
                run = client.get_run(run_id)
                metrics = run.data.metrics
                scorers = sorted({k.split(".", 1)[0] for k in metrics if "." in k
                                  and not k.startswith(("seconds", "k_search"))})
                columns = sorted({k.split(".", 1)[1] for k in metrics if "." in k
                                  and k.split(".", 1)[0] in scorers})
                # keys are "<metric>.<scorer>": a row per metric, a column per scorer
                rows = [(i18n.metric_name(s, lang), [metrics.get(f"{s}.{c}") for c in columns])
                        for s in scorers]
                plots = [{"url": f"/models/{name}/{version.version}/{p}.png",
                          "name": i18n.code("plot", p, lang)}
                         for p in _PLOTS
                         if any(a.path == f"figures/{p}.png" for a in
                                client.list_artifacts(run_id, "figures"))]
                tags = version.tags or {}
                shown.append({"name": name, "version": version.version, "alias": alias,
                              "scorer_kind": tags.get("scorer.kind", "model"),
                              "scorer_name": i18n.code("scorer", tags.get("scorer.name", ""),
                                                       lang),
                              "why": i18n.code("why", tags.get("champion.reason", ""), lang)
                              if alias == CHAMPION
                              else i18n.gate_reason(tags.get("gate.reasons", "").split("\n")[0],
                                                    lang),
                              "run_id": run_id,
                              "metric_columns": [i18n.code("scorer", c, lang) for c in columns],
                              "metric_rows": rows, "plots": plots,
                              "mlflow_url": ui_url(state.settings.mlflow_ui_url,
                                                   run.info.experiment_id, run_id)})
    return render(request, "models.html", {"models": shown}, user=user)


@router.get("/models/{name}/{version}/{plot}.png", response_model=None)
def model_plot(request: Request, state: State, name: PathText, version: PathText, plot: PathText
               ) -> Response:
    """A figure the model version's training run logged; 404 for an unknown model, version or
    figure."""
    user = gate(request, state, "viewer")
    if not isinstance(user, ApiKey):
        return user
    if plot not in _PLOTS:
        raise HTTPException(404, f"no figure {plot!r}: one of {', '.join(_PLOTS)}")
    return Response(_plot_png(state.settings, name, version, plot), media_type="image/png")


def _plot_png(settings: Settings, name: str, version: str, plot: str) -> bytes:
    """The bytes of ``figures/<plot>.png`` of model ``name`` version ``version``.

    Downloaded into a temporary folder removed before returning: MLflow's download without a
    destination makes a new folder on every call and never removes it.
    """
    from mlflow.exceptions import MlflowException

    from customer_tiering.registry.tracking import use_store

    missing = HTTPException(404, f"model {name!r} version {version!r} has no figure {plot!r}")
    try:
        with (use_store(settings) as client,
              tempfile.TemporaryDirectory(prefix="tiering-plot-") as folder):
            run_id = client.get_model_version(name, version).run_id
            if run_id is None:  # registered from files, not from a training run
                raise missing
            local = client.download_artifacts(run_id, f"figures/{plot}.png", folder)
            return Path(local).read_bytes()
    except MlflowException as exc:
        # Unknown model or version, a version that is not a number, a figure never logged.
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise missing from None

