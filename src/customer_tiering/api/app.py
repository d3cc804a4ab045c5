"""``create_app()``: the FastAPI application, served by ``tiering serve`` (uvicorn).

The lifespan opens the tier store (migrating it), loads and checks the configs, loads the
champion models once, and starts a poll that picks up a new ``champion`` alias without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from customer_tiering import __version__
from customer_tiering.api.errors import BodySizeLimit, install_error_handlers
from customer_tiering.api.headers import SecurityHeaders
from customer_tiering.api.links import install_links
from customer_tiering.api.rate_limits import CostBudget
from customer_tiering.api.routes import customers, grades, operations, ratings, reviews, scoring
from customer_tiering.api.schemas import ValidationProblem
from customer_tiering.api.state import AppState, ModelHolder
from customer_tiering.core.settings import Settings, get_settings
from customer_tiering.rating.champions import load_serving_configs
from customer_tiering.store.tier_store import TierStore
from customer_tiering.web import pages

__all__ = ["create_app"]

log = logging.getLogger("customer_tiering.api")

_DESCRIPTION = """Grades of B2B customers (客户分级管理) with explanations that add up.

Send an API key in the `X-API-Key` header (`tiering keys create --role viewer|reviewer|admin`).
Roles: **viewer** (sales ops) reads grades, explanations, ratings and scores what-ifs;
**reviewer** also overrides grades, reviews changes and runs special ratings; **admin** also
reloads models. Errors are JSON: `{"detail": ..., "errors": [{"field", "message"}]}`.
"""


def _metrics() -> tuple[object, object]:
    from prometheus_client import REGISTRY, Counter, Histogram

    existing = getattr(REGISTRY, "_names_to_collectors", {})
    if "tiering_http_requests_total" in existing:
        return existing["tiering_http_requests_total"], existing["tiering_http_request_seconds"]
    requests = Counter("tiering_http_requests_total", "HTTP requests",
                       ["method", "route", "status"])
    seconds = Histogram("tiering_http_request_seconds", "HTTP request duration",
                        ["method", "route"],
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
    return requests, seconds


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application (nothing is opened until the lifespan starts)."""
    chosen = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = chosen or get_settings()
        store = TierStore.open(config.tier_store_url())
        configs = load_serving_configs(config.config_dir)
        holder = ModelHolder(config, configs)
        await run_in_threadpool(holder.refresh)
        if not holder.loaded:
            log.error("starting without models: %s", holder.last_error)
        app.state.tiering = AppState(config, store, configs, holder,
                                     CostBudget.from_settings(config))
        poll = None
        if config.model_poll_seconds > 0:
            poll = asyncio.create_task(_poll(holder, config.model_poll_seconds))
        try:
            yield
        finally:
            if poll is not None:
                poll.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll
            store.close()

    app = FastAPI(title="customer-tiering", version=__version__, description=_DESCRIPTION,
                  lifespan=lifespan,
                  # our 422 names fields as text (api/errors.py), not FastAPI's default shape
                  responses={422: {"model": ValidationProblem, "description": "Invalid request"}})
    install_error_handlers(app)
    for module in (customers, grades, scoring, reviews, ratings, operations):
        app.include_router(module.router)
    install_links(app)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(Path(pages.__file__).parent / "static")),
              name="static")
    requests, seconds = _metrics()

    config = chosen or get_settings()
    app.add_middleware(SessionMiddleware,
                       secret_key=config.session_signing_secret(),
                       session_cookie="tiering_session", same_site="strict", https_only=False,
                       max_age=config.session_max_age_seconds)
    # the last added runs first: the body limit's own refusals are counted and get the headers
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(Instrumentation, requests=requests, seconds=seconds)
    app.add_middleware(SecurityHeaders)
    return app


class Instrumentation:
    """Prometheus counts and durations per route (pure ASGI: the ``@app.middleware`` decorator
    costs about a millisecond a request)."""

    def __init__(self, app: ASGIApp, requests: Any, seconds: Any) -> None:
        self.app, self.requests, self.seconds = app, requests, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.requests.labels(method, path, str(status)).inc()
            self.seconds.labels(method, path).observe(time.perf_counter() - started)


async def _poll(holder: ModelHolder, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await run_in_threadpool(holder.refresh)
