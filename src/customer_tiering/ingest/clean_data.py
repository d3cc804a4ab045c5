"""The clean data set that ``tiering load`` (or the demo) writes and that training and rating read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from customer_tiering.core.errors import TieringError

__all__ = ["CleanDataSet"]


@dataclass(frozen=True)
class CleanDataSet:
    """Where the clean Parquet files are: transactions (required), customers and interactions."""

    transactions: Path
    customers: Path | None
    interactions: Path | None

    @classmethod
    def from_dir(cls, data_dir: str | os.PathLike[str]) -> CleanDataSet:
        """The data set in ``data_dir``.

        Parameters
        ----------
        data_dir : str or os.PathLike
            A folder written by ``tiering load``: ``transactions.parquet`` and, when given,
            ``customers.parquet`` and ``interactions.parquet``.

        Returns
        -------
        CleanDataSet
            The files found (None for an optional file that is absent).

        Raises
        ------
        TieringError
            When ``transactions.parquet`` is missing, naming the command that writes it.
        """
        base = Path(data_dir)
        tx = base / "transactions.parquet"
        if not tx.exists():
            raise TieringError(f"{tx} does not exist; run `tiering load --out {base}` first")
        optional = [base / f"{n}.parquet" for n in ("customers", "interactions")]
        return cls(tx, *(p if p.exists() else None for p in optional))

    def paths(self) -> dict[str, Path]:
        """The files present, by table name.

        Returns
        -------
        dict of str to pathlib.Path
        """
        return {k: v for k, v in (("transactions", self.transactions),
                                  ("customers", self.customers),
                                  ("interactions", self.interactions)) if v is not None}
