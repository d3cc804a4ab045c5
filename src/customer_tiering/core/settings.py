"""The one place the environment is read: ``Settings`` with the ``TIERING_`` prefix.

Nothing happens at import time; call :func:`get_settings` (or build ``Settings(...)`` in a test).
Relative paths are taken from the working directory, so the embedded defaults land in the checkout:
``data/`` for data and the SQLite tier store, ``models/`` for the MLflow store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from customer_tiering.core.config_io import default_config_dir


class Settings(BaseSettings):
    """Environment settings (``TIERING_<NAME>``); business rules live in versioned YAML instead."""

    model_config = SettingsConfigDict(env_prefix="TIERING_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where demo data, loaded data and rejects go.")
    config_dir: Path = Field(
        default_factory=default_config_dir,
        description="Scorecard, grade, policy and blend YAML files (default: serving/config here, "
                    "else the one beside the installed sources).",
    )
    database_url: str | None = Field(
        None, description="Tier store SQLAlchemy URL; default SQLite file in data_dir."
    )
    training_config_dir: Path = Field(
        Path("training/config"), description="Training configs (segments, churn, value YAML)."
    )
    mlflow_uri: str = Field(
        "sqlite:///models/mlflow.db", description="MLflow tracking and registry URI."
    )
    clean_data_dir: Path | None = Field(
        None, description="Clean data set the API's special ratings read (default: "
                          "data_dir/clean, or the demo's data_dir/demo/clean when only it exists)."
    )
    model_poll_seconds: float = Field(
        60.0, ge=0, description="How often the API looks for a new champion (0: never)."
    )
    max_body_bytes: int = Field(
        16_000_000, ge=1024, description="Largest request body the API accepts (413 above)."
    )
    session_secret: str | None = Field(
        None, description="Signs the pages' session cookies (default: a random secret kept in "
                          "data_dir/.session-secret, shared by all workers)."
    )
    rate_limit_burst: float = Field(
        20_000, ge=0, description="Cost units an API key may spend at once on the costly routes "
                                  "(a unit: one customer scored with its explanation); 0: no limits."
    )
    rate_limit_per_second: float = Field(
        20, ge=0, description="Cost units a key's budget regains per second (429 when empty)."
    )
    session_max_age_seconds: int = Field(
        8 * 3600, ge=60, le=30 * 24 * 3600,
        description="How long a page sign-in lasts; signing out ends it at once, on the server."
    )
    mlflow_ui_url: str = Field(
        "http://127.0.0.1:5000", description="Where the MLflow UI runs (links on the models page)."
    )
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="Where features and periodic ratings are computed: embedded "
                              "(duckdb) or on Apache Spark (spark; the `spark` extra).")
    spark_master: str = Field(
        "local[2]", description="Spark master URL for --engine spark (local[N], spark://, yarn, "
                                "k8s://).")
    spark_conf: str | None = Field(
        None, description="Further Spark settings for --engine spark: key=value pairs separated "
                          "by commas (e.g. spark.executor.memory=4g).")
    max_reject_share: float = Field(
        0.01, ge=0.0, le=1.0, description="Loading stops, writing nothing, above this share."
    )

    def clean_data(self) -> Path:
        """The clean data set special ratings read: ``clean_data_dir`` when set, else
        ``data_dir/clean``, or the demo's ``data_dir/demo/clean`` when only that one exists
        (so `tiering demo` then `tiering serve` rate from the demo's data)."""
        if self.clean_data_dir is not None:
            return self.clean_data_dir
        loaded, demo = self.data_dir / "clean", self.data_dir / "demo" / "clean"
        return demo if not loaded.exists() and demo.exists() else loaded

    def tier_store_url(self) -> str:
        """The tier store's database URL.

        Returns
        -------
        str
            ``database_url``, or SQLite at ``data_dir/tiering.db``.
        """
        return self.database_url or f"sqlite:///{self.data_dir / 'tiering.db'}"


    def session_signing_secret(self) -> str:
        """The secret that signs web sessions.

        ``session_secret``, or one random secret per data folder, created once (mode 0600) so that
        every worker process of ``tiering serve --workers N`` signs alike.

        Returns
        -------
        str

        Raises
        ------
        FileExistsError
            When another process created the secret file but left it empty.
        """
        if self.session_secret:
            return self.session_secret
        import os
        import secrets

        path = self.data_dir / ".session-secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another worker may be writing it this instant
                found = path.read_text(encoding="ascii").strip()
                if found:
                    return found
                import time

                time.sleep(0.02)
            raise
        secret = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret)
        return secret


def get_settings() -> Settings:
    """Read the settings from the environment now.

    Returns
    -------
    Settings
    """
    return Settings()
