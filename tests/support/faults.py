"""Helpers of the fault tests: the real ``tiering`` command in a child process, its fail points,
and the store invariant every fault must keep (no partial rating, ever)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.support.rating_env import TrainedEnv

TIERING = Path(sys.executable).with_name("tiering")


def cli_env(trained: TrainedEnv, store_url: str, *, failpoint: str | None = None,
            **extra: str) -> dict[str, str]:
    """The environment of a ``tiering`` child: the trained models, ``store_url`` as tier store,
    and the fail point to stop at (``TIERING_FAILPOINT``)."""
    settings = trained.settings(store_url)
    env = {**os.environ, "TIERING_DATABASE_URL": store_url,
           "TIERING_MLFLOW_URI": settings.mlflow_uri,
           "TIERING_TRAINING_CONFIG_DIR": str(settings.training_config_dir),
           "TIERING_CONFIG_DIR": str(settings.config_dir),
           "TIERING_DATA_DIR": str(trained.data_dir), **extra}
    env.pop("TIERING_FAILPOINT", None)
    if failpoint is not None:
        env["TIERING_FAILPOINT"] = failpoint
    return env


def start_rating(env: dict[str, str], as_of: str, clean_dir: Path) -> subprocess.Popen[str]:
    """``tiering rate --as-of AS_OF`` in a child process, stdout and stderr piped."""
    return subprocess.Popen([str(TIERING), "rate", "--as-of", as_of, "--data", str(clean_dir)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(process: subprocess.Popen[str], marker: str, timeout: float = 180.0) -> str:
    """Read the child's stderr until a line contains ``marker``; what was read."""
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
    out = process.stdout.read() if process.stdout is not None else ""
    raise AssertionError(f"{marker!r} never appeared; stderr:\n{''.join(seen)}\nstdout:\n{out}")


def stored_ratings(store_url: str) -> dict[int, tuple[int, int]]:
    """Per stored rating: (customer_count in its header, grade rows it has). Raises when a grade
    row belongs to no rating. A partial rating shows as a pair that differs."""
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT r.id, r.customer_count, count(g.rating_id) FROM ratings r "
                "LEFT JOIN grades g ON g.rating_id = r.id GROUP BY r.id, r.customer_count"))
            found = {int(i): (int(n), int(g)) for i, n, g in rows}
            orphans = conn.execute(sa.text(
                "SELECT count(*) FROM grades WHERE rating_id NOT IN (SELECT id FROM ratings)"
            )).scalar_one()
    finally:
        engine.dispose()
    assert orphans == 0, f"{orphans} grade rows belong to no rating"
    return found


def assert_no_partial_rating(store_url: str) -> dict[int, tuple[int, int]]:
    """Every stored rating has exactly ``customer_count`` grade rows; the ratings found."""
    found = stored_ratings(store_url)
    partial = {i: pair for i, pair in found.items() if pair[0] != pair[1]}
    assert partial == {}, f"partial ratings (customer_count, grade rows): {partial}"
    return found


def one_line(text: str) -> str:
    """Rich wraps console output at 80 columns when it is not a terminal: unwrap it."""
    return " ".join(text.split())
