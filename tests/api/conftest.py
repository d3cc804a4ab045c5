"""A real server for API tests: uvicorn on a free loopback port, a rated tier store, real keys."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn

from customer_tiering.api.app import create_app
from customer_tiering.core.settings import Settings
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from tests.support.rating_env import AS_OF, TrainedEnv


@dataclass
class LiveApi:
    """A running server and a key per role."""

    url: str
    keys: dict[str, str]
    settings: Settings
    store: TierStore
    earlier_rating: int
    rating: int

    def client(self, role: str | None = "viewer") -> httpx.Client:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings) -> Iterator[str]:
    """Run the app with uvicorn in a thread until the generator is closed; yield its URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def app_settings(trained: TrainedEnv, store_url: str, **overrides: object) -> Settings:
    """The trained environment's settings with ``store_url`` as tier store, no model poll, and
    ``overrides``."""
    return trained.settings(store_url).model_copy(update={
        "clean_data_dir": trained.clean_dir, "model_poll_seconds": 0.0, **overrides})


@contextmanager
def live_server(settings: Settings, clean_dir: Path,
                as_ofs: tuple[date, ...] = (date(2025, 11, 30), AS_OF)) -> Iterator[LiveApi]:
    """Periodic ratings at ``as_ofs`` in the settings' store, a key per role, the server running."""
    records = [run_periodic_rating(as_of=as_of, settings=settings, data_dir=clean_dir).record
               for as_of in as_ofs]
    store = TierStore.open(settings.tier_store_url())
    keys = {role: create_key(store, role, f"{role}-tester")
            for role in ("viewer", "reviewer", "admin")}
    server = serve(settings)
    url = next(server)
    try:
        yield LiveApi(url, keys, settings, store, records[0].id, records[-1].id)
    finally:
        server.close()
        store.close()


@pytest.fixture
def live_api(trained: TrainedEnv, store_url: str) -> Iterator[LiveApi]:
    """Two periodic ratings in a fresh store, keys for every role, and the server running."""
    with live_server(app_settings(trained, store_url), trained.clean_dir) as api:
        yield api
