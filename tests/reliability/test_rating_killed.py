"""A rating killed with SIGKILL midway leaves the tier store as it was (SQLite and PostgreSQL).

The real command runs in a child process with the fail point ``store.after_chunk`` set: it stops
after writing grade rows inside its transaction, before the commit. While it is stopped, a reader
still sees only the earlier rating; then the child is killed with SIGKILL, and the store must hold
exactly what it held before, and accept the same rating again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")
TIERING = Path(sys.executable).with_name("tiering")


def _wait_for(process: subprocess.Popen[str], marker: str, timeout: float = 180.0) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return "".join(seen)
    process.kill()
    raise AssertionError(f"{marker!r} never appeared; stderr:\n{''.join(seen)}")


def test_a_rating_killed_midway_leaves_the_store_as_it_was(trained: TrainedEnv,
                                                          store_url: str) -> None:
    settings = trained.settings(store_url)
    before = run_periodic_rating(as_of=AS_OF.replace(day=30, month=11), settings=settings,
                                 data_dir=trained.clean_dir).record
    env = {**os.environ,
           "TIERING_DATABASE_URL": store_url, "TIERING_MLFLOW_URI": settings.mlflow_uri,
           "TIERING_TRAINING_CONFIG_DIR": str(settings.training_config_dir),
           "TIERING_CONFIG_DIR": str(settings.config_dir), "TIERING_DATA_DIR": str(trained.data_dir),
           "TIERING_FAILPOINT": "store.after_chunk"}
    child = subprocess.Popen(
        [str(TIERING), "rate", "--as-of", AS_OF.isoformat(), "--data", str(trained.clean_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(child, "failpoint store.after_chunk reached")
        reader = TierStore.open(store_url, migrate=False)
        assert reader.ratings()["id"].tolist() == [before.id]  # the half-written one is invisible
        assert reader.latest_rating().id == before.id
        reader.close()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    store = TierStore.open(store_url)
    assert store.ratings()["id"].tolist() == [before.id]
    assert len(store.grades(before.id)) == before.customer_count
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM grades")).scalar_one() == \
            before.customer_count
    store.close()
    # Nothing is locked or half-done: the same rating now runs to the end.
    after = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    assert after.created and after.record.customer_count == before.customer_count
