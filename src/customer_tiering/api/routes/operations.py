"""Health, models in use (with hot reload), and Prometheus metrics."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from customer_tiering.api import schemas as api
from customer_tiering.api.deps import State, require_admin, require_viewer

router = APIRouter(tags=["operations"])
_ERRORS = api.error_responses(401, 403)


@router.get("/health/live", response_model=api.Message)
def live() -> api.Message:
    """The process is up."""
    return api.Message(detail="alive")


@router.get("/health/ready", response_model=api.Ready, responses={503: {"model": api.Ready}})
def ready(state: State) -> JSONResponse:
    """Store reachable and models loaded; ``degraded`` when a newer champion failed to load."""
    try:
        state.store.ping()
        store = "ok"
    except sa.exc.SQLAlchemyError as exc:
        store = f"unreachable: {type(exc).__name__}"
    holder = state.holder
    versions = holder.current.versions if holder.loaded else {}
    if store != "ok" or not holder.loaded:
        status, code = "not ready", 503
    elif holder.last_error:
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    body = api.Ready(status=status, store=store, models=versions, model_error=holder.last_error)
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


def _models(state: State) -> api.ModelsResponse:
    from customer_tiering.registry.tracking import use_store

    holder = state.holder
    infos = []
    if holder.loaded:
        current = holder.current
        with use_store(state.settings) as client:
            for name, info in current.models.versions.items():
                run = client.get_run(info["run_id"])
                metrics = {k: float(v) for k, v in run.data.metrics.items()
                           if not k.startswith("seconds.")}
                infos.append(api.ModelInfo(name=name, version=info["version"],
                                           run_id=info["run_id"], metrics=metrics))
    return api.ModelsResponse(loaded_at=holder.current.loaded_at if holder.loaded else None,
                              last_check=holder.last_check, last_error=holder.last_error,
                              models=infos)


@router.get("/v1/models", response_model=api.ModelsResponse, responses=_ERRORS,
            dependencies=[Depends(require_viewer)])
def models(state: State) -> api.ModelsResponse:
    """The champion versions in use, their holdout metrics next to the baselines' and errors."""
    return _models(state)


@router.post("/v1/admin/models/reload", response_model=api.ModelsResponse, responses=_ERRORS,
             dependencies=[Depends(require_admin)])
async def reload_models(state: State) -> api.ModelsResponse:
    """Look for new champions now (instead of waiting for the poll); keep the last good set."""
    await run_in_threadpool(state.holder.refresh)
    return _models(state)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
