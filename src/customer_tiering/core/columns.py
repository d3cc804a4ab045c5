"""Feature columns as NumPy arrays by name: what the scoring core reads.

A pandas frame costs tens of microseconds per column access and per operation, whatever its
length; for a rating of a million customers that is nothing, for a what-if of one customer it is
most of the request. :class:`Columns` is taken from a frame once (:meth:`Columns.of`, no copy for
numeric columns) or built straight from a request, and the scorecard, the models' feature
matrices, the segments and the explanations read it, so one code path serves both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Columns", "is_number"]


def is_number(dtype: Any) -> bool:
    """Whether a column of ``dtype`` holds numbers (booleans are not numbers here).

    Parameters
    ----------
    dtype : numpy or pandas dtype
        The column's dtype.

    Returns
    -------
    bool
    """
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


class Columns(Mapping[str, np.ndarray]):
    """Named 1-D arrays of one length: ``float64`` (NaN for missing) or ``object`` (None).

    ``len()`` counts columns (it is a mapping); :attr:`n_rows` counts rows.
    """

    __slots__ = ("_data", "_frame", "_names", "_numeric", "n_rows")

    def __init__(self, data: Mapping[str, np.ndarray], n_rows: int) -> None:
        self._data = dict(data)
        self._frame: pd.DataFrame | None = None
        self._names = list(self._data)
        self._numeric: dict[str, np.ndarray] = {}
        self.n_rows = n_rows
        for name, values in self._data.items():
            if len(values) != n_rows:
                raise ValueError(f"column {name!r} has {len(values)} rows, not {n_rows}")

    @classmethod
    def of(cls, table: pd.DataFrame | Columns) -> Columns:
        """``table`` itself, or a frame's columns, each taken when first read.

        Parameters
        ----------
        table : pandas.DataFrame or Columns
            The feature rows.

        Returns
        -------
        Columns
            Reading a numeric column of a frame costs no copy.
        """
        if isinstance(table, Columns):
            return table
        out = cls({}, len(table))
        out._frame = table
        out._names = [str(c) for c in table.columns]
        return out

    def __getitem__(self, name: str) -> np.ndarray:
        found = self._data.get(name)
        if found is None:
            if self._frame is None or name not in self._frame.columns:
                raise KeyError(name)
            series = self._frame[name]
            if is_number(series.dtype):
                found = series.to_numpy(dtype="float64", na_value=np.nan)
            else:
                found = series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
            self._data[name] = found
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._data or (self._frame is not None and name in self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def numeric(self, name: str) -> np.ndarray:
        """The column as ``float64``.

        Parameters
        ----------
        name : str
            The column.

        Returns
        -------
        numpy.ndarray
            ``float64``: text that is not a number becomes NaN; an absent column is all NaN.
        """
        found = self._numeric.get(name)
        if found is None:
            values = self.get(name, None)
            if values is None:
                found = np.full(self.n_rows, np.nan)
            elif values.dtype == np.float64:
                found = values
            elif values.dtype.kind in "iuf":
                found = values.astype("float64")
            else:
                found = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"
                                      ).to_numpy(dtype="float64", na_value=np.nan)
            self._numeric[name] = found
        return found

    def text(self, name: str) -> np.ndarray:
        """The column as ``object``.

        Parameters
        ----------
        name : str
            The column.

        Returns
        -------
        numpy.ndarray
            ``object`` with None for missing values; an absent column is all None.
        """
        if name not in self:
            return np.full(self.n_rows, None, dtype=object)
        values = self[name]
        if values.dtype == object:
            return values
        out = values.astype(object)
        out[pd.isna(values)] = None
        return out

    def take(self, rows: slice | np.ndarray) -> Columns:
        """The same columns for some rows only.

        Parameters
        ----------
        rows : slice or numpy.ndarray
            A slice (which gives views, no copies), row positions or a boolean mask.

        Returns
        -------
        Columns
        """
        data = {name: self[name][rows] for name in self._names}
        return Columns(data, len(np.arange(self.n_rows)[rows]))

    def frame(self) -> pd.DataFrame:
        """As a pandas frame (for callers outside the scoring core).

        Returns
        -------
        pandas.DataFrame
            The frame the columns were taken from, when they were.
        """
        if self._frame is not None:
            return self._frame
        return pd.DataFrame({name: self[name] for name in self._names})
