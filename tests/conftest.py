"""Shared fixtures: real databases in temporary places, never mocks.

PostgreSQL: the server named by ``TIERING_TEST_POSTGRES_URL`` (default: the local one at
127.0.0.1:5432, database ``test``). Each test session gets a database of its own, dropped at the end.
If the server cannot be reached the PostgreSQL tests *fail* (they never skip): run
``bash scripts/ensure-services.sh`` or name another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from customer_tiering.core.settings import Settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    admin_url = sa.make_url(os.environ.get("TIERING_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    name = f"tiering_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(
            f"PostgreSQL at {admin_url.render_as_string(hide_password=True)} is not reachable "
            f"({exc.orig}); start it with `bash scripts/ensure-services.sh`"
        )
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session (worker)."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty tier store database for each test: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tiering.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on a temporary SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tiering.db'}"
    return str(request.getfixturevalue("postgres_url"))


# --- MLflow store fixtures (tracking) ---
# Creating a SQLite MLflow store runs its migrations (seconds), so it is done once per session and
# each test gets a copy of the empty, migrated database: a real store, fresh for every test.


@pytest.fixture(scope="session")
def _mlflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def mlflow_settings(_mlflow_template_db: Path, tmp_path: Path) -> Settings:
    """Settings whose ``mlflow_uri`` is a fresh SQLite MLflow store under ``tmp_path/mlflow``."""
    import shutil

    store = tmp_path / "mlflow"
    store.mkdir()
    shutil.copyfile(_mlflow_template_db, store / "mlflow.db")
    return Settings(mlflow_uri=f"sqlite:///{store / 'mlflow.db'}", data_dir=tmp_path / "data")


# --- a trained environment for rating, export and API tests ---
@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Demo data + champion models in a real MLflow store, built once per worker."""
    from tests.support.rating_env import build

    return build(tmp_path_factory.mktemp("trained"))
