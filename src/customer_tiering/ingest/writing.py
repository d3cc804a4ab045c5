"""Writing what loading and validation produce: the clean data set and the rejects files.

Every write is all or nothing: a folder is filled beside its target and swapped in with one
rename, and a rejects file is written beside its final name and then renamed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from customer_tiering.ingest.validation import Dataset, LoadResult

__all__ = ["rejects_path", "replace_directory", "write_dataset", "write_rejects"]


def write_dataset(dataset: Dataset, out_dir: str | os.PathLike[str]) -> Path:
    """Write the clean tables as Parquet and each file's rejects as CSV, all or nothing.

    Everything is written into a sibling temporary folder that then replaces ``out_dir`` in one
    rename, so a reader never sees a half-written data set.

    Parameters
    ----------
    dataset : Dataset
        What :func:`load_dataset` returned.
    out_dir : str or os.PathLike
        The clean data set's folder: ``<table>.parquet`` and ``rejects/<table>_rejects.csv``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """

    def fill(tmp: Path) -> None:
        for table in ("transactions", "customers", "interactions"):
            getattr(dataset, table).to_parquet(tmp / f"{table}.parquet", index=False)
        for result in dataset.results:
            result.rejects.to_csv(tmp / "rejects" / f"{result.table}_rejects.csv", index=False,
                                  encoding="utf-8-sig")

    return replace_directory(out_dir, fill)


def replace_directory(out_dir: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """Let ``fill`` write a sibling temporary folder (with ``rejects/``), then swap it in.

    If ``fill`` raises, ``out_dir`` is left as it was and the temporary folder is removed.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The folder to replace (created when missing).
    fill : callable
        Writes the new content into the folder it is given.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    target = Path(out_dir)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "rejects").mkdir(parents=True)
    try:
        fill(tmp)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def rejects_path(out_dir: Path, source: str) -> Path:
    """Where a validation writes a source's rejected rows.

    Parameters
    ----------
    out_dir : pathlib.Path
        The rejects folder.
    source : str
        The source's name (a path, or ``URL#table``).

    Returns
    -------
    pathlib.Path
        ``out_dir/<file stem>_rejects.csv`` (for a table, its name is the stem).
    """
    return out_dir / f"{Path(source.split('#')[-1]).stem}_rejects.csv"


def write_rejects(results: Iterable[LoadResult], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write each input's rejected rows (raw values, row, reasons) as UTF-8-BOM CSV files.

    Parameters
    ----------
    results : iterable of LoadResult
        The validated files.
    out_dir : str or os.PathLike
        The rejects folder (created when missing).

    Returns
    -------
    list of pathlib.Path
        The files written (:func:`rejects_path`), one per result.
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        path = rejects_path(target, r.source)
        tmp = path.with_name(f".{path.name}.tmp")
        r.rejects.to_csv(tmp, index=False, encoding="utf-8-sig")
        os.replace(tmp, path)
        written.append(path)
    return written
