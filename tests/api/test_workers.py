"""`tiering serve --workers 2`: both processes serve, and a page session signed by one is honoured
by the other (one session secret per data folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from tests.api.conftest import free_port
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


def test_two_workers_serve_and_share_the_page_session(trained: TrainedEnv, tmp_path: Path
                                                      ) -> None:
    url = f"sqlite:///{tmp_path / 'tiers.db'}"
    data_dir = tmp_path / "data"
    settings = trained.settings(url).model_copy(update={"data_dir": data_dir})
    run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    store = TierStore.open(url)
    key = create_key(store, "viewer", "two-workers")
    store.close()
    port = free_port()
    env = {**os.environ, "TIERING_MLFLOW_URI": trained.mlflow_uri, "TIERING_DATABASE_URL": url,
           "TIERING_DATA_DIR": str(data_dir),
           "TIERING_TRAINING_CONFIG_DIR": str(trained.training_config_dir),
           "TIERING_MODEL_POLL_SECONDS": "0"}
    env.pop("TIERING_SESSION_SECRET", None)
    server = subprocess.Popen([str(Path(sys.executable).with_name("tiering")), "serve", "--port",
                               str(port), "--workers", "2", "--log-level", "warning"],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "two workers did not come up"
            time.sleep(0.5)
        signed_in = httpx.post(f"{base}/login", data={"api_key": key}, follow_redirects=False)
        assert signed_in.status_code == 303
        cookies = dict(signed_in.cookies)
        pages = []
        for _ in range(16):  # a fresh connection each time: the kernel spreads them over workers
            with httpx.Client(base_url=base, cookies=cookies) as client:
                pages.append(client.get("/grades", follow_redirects=False).status_code)
        assert pages == [200] * 16
        assert (data_dir / ".session-secret").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
