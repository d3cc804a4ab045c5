"""Which engine loads a file, and how DuckDB runs: the engine choice, the connection, the spill folder.

``TIERING_LOAD_ENGINE`` (``auto`` or ``pandas``) picks the engine; DuckDB runs with at most 2
threads, a memory limit (``TIERING_DUCKDB_MEMORY_LIMIT``, default 1GB) and a temporary folder to
spill to. The engine path itself is described in :mod:`customer_tiering.ingest.engine_loading`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ENGINE_ENV", "MEMORY_ENV", "engine_choice", "engine_temp_dir", "remove_temp_dir"]

ENGINE_ENV = "TIERING_LOAD_ENGINE"
"""``auto`` (the default: DuckDB for the files it can read as pandas does) or ``pandas``."""

MEMORY_ENV = "TIERING_DUCKDB_MEMORY_LIMIT"


def engine_choice(engine: str | None) -> str:
    """The loading engine: ``engine`` when given, else ``$TIERING_LOAD_ENGINE``, else ``auto``.

    Parameters
    ----------
    engine : str or None
        ``"auto"`` or ``"pandas"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For another name.
    """
    choice = engine or os.environ.get(ENGINE_ENV) or "auto"
    if choice not in ("auto", "pandas"):
        raise ValueError(f"the loading engine is auto or pandas, not {choice!r}")
    return choice



def _connect(tmp: Path) -> Any:
    import duckdb

    con = duckdb.connect(config={
        "threads": max(1, min(2, os.cpu_count() or 1)),
        "memory_limit": os.environ.get(MEMORY_ENV, "1GB"),
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,
    })
    con.execute("SET enable_progress_bar = false")
    return con



def engine_temp_dir() -> Path:
    """A fresh folder for DuckDB to spill to (removed by :func:`remove_temp_dir`)."""
    return Path(tempfile.mkdtemp(prefix="tiering-duckdb-"))


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

