"""Drift monitoring: distribution profiles and the population stability index (PSI).

A *profile* summarises one column of a reference population (the champion model's latest training
snapshot): for a number, the shares of ten quantile bins plus a missing bin; for a category, the
share of each level plus "other" and missing. :func:`psi` compares a new population with it:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with shares floored at 1e-4 so an empty bin does not give infinity. Customary reading: below 0.1
stable, 0.1-0.2 some shift, above 0.2 (:data:`PSI_WARNING`) a shift worth a look before trusting
the scores.

Pure functions; profiles are plain dicts so they pickle with a model and serialise to JSON.

References
----------
.. [1] Siddiqi, N. (2006). *Credit Risk Scorecards: Developing and Implementing Intelligent
   Credit Scoring*. Wiley (the population stability index and its customary reading).
.. [2] Yurdakul, B. (2018). *Statistical Properties of Population Stability Index*. PhD
   dissertation, Western Michigan University (PSI against chi-square tests; why the cut-offs
   are rules of thumb, not significance levels).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PSI_WARNING", "drift_table", "profile_column", "profile_frame", "psi"]

PSI_WARNING = 0.2
_FLOOR = 1e-4
_MISSING = "__missing__"
_OTHER = "__other__"


def profile_column(values: pd.Series | np.ndarray, *, bins: int = 10) -> dict[str, Any]:
    """Profile one column: quantile bin edges and shares (numbers) or level shares (categories).

    Parameters
    ----------
    values : the reference values (nulls allowed; they get their own bin).
    bins : number of quantile bins for a numeric column (fewer when values repeat).

    Returns
    -------
    ``{"kind": "numeric", "edges": [...], "shares": [...], "missing": share}`` or
    ``{"kind": "categorical", "shares": {level: share}, "missing": share}``.
    """
    series = pd.Series(values)
    n = max(len(series), 1)
    missing = float(series.isna().sum() / n)
    present = series.dropna()
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        shares = (present.astype(str).value_counts() / n).to_dict()
        return {"kind": "categorical", "shares": {str(k): float(v) for k, v in shares.items()},
                "missing": missing}
    x = present.to_numpy(dtype=float)
    if len(x) == 0:
        return {"kind": "numeric", "edges": [], "shares": [], "missing": missing}
    inner = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(inner, x, side="right"), minlength=len(inner) + 1)
    return {"kind": "numeric", "edges": inner.tolist(), "shares": (counts / n).tolist(),
            "missing": missing}


def profile_frame(frame: pd.DataFrame, columns: Iterable[str], *, bins: int = 10
                  ) -> dict[str, dict[str, Any]]:
    """Profile each of ``columns`` present in ``frame`` (see :func:`profile_column`).

    Parameters
    ----------
    frame : the reference population.
    columns : the columns to profile; those absent from ``frame`` are skipped.
    bins : quantile bins per numeric column.

    Returns
    -------
    dict of column name to its profile.
    """
    return {c: profile_column(frame[c], bins=bins) for c in columns if c in frame.columns}


def _actual_shares(reference: Mapping[str, Any], values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    series = pd.Series(values)
    n = max(len(series), 1)
    missing = float(series.isna().sum() / n)
    present = series.dropna()
    if reference["kind"] == "categorical":
        levels = list(reference["shares"])
        counts = present.astype(str).value_counts()
        actual = [float(counts.get(level, 0) / n) for level in levels]
        other = float(counts[~counts.index.isin(levels)].sum() / n)
        expected = [float(reference["shares"][level]) for level in levels]
        expected_other = max(0.0, 1.0 - sum(expected) - float(reference["missing"]))
        return (np.array([*expected, expected_other, reference["missing"]]),
                np.array([*actual, other, missing]))
    edges = np.asarray(reference["edges"], dtype=float)
    x = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=float)
    binned = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    return (np.array([*reference["shares"], reference["missing"]], dtype=float),
            np.array([*(binned / n), missing], dtype=float))


def psi(reference: Mapping[str, Any], values: pd.Series | np.ndarray) -> float:
    """Population stability index of ``values`` against a reference profile.

    Parameters
    ----------
    reference : a profile from :func:`profile_column`.
    values : the new population's values of the same column.

    Returns
    -------
    float
        ``sum (actual - expected) ln(actual / expected)`` over the bins, shares floored at 1e-4;
        0 for an empty numeric profile.
    """
    expected, actual = _actual_shares(reference, pd.Series(values))
    if len(expected) == 0:
        return 0.0
    e = np.maximum(expected, _FLOOR)
    a = np.maximum(actual, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_table(profiles: Mapping[str, Mapping[str, Any]], frame: pd.DataFrame, *,
                source: str = "") -> pd.DataFrame:
    """PSI of every profiled column found in ``frame``, largest first, with the warning flag.

    Parameters
    ----------
    profiles : column name -> profile (a model's ``reference_profile_``).
    frame : the new population.
    source : a label for the rows (the model's name).

    Returns
    -------
    DataFrame with ``source``, ``column``, ``psi``, ``warning`` (PSI above :data:`PSI_WARNING`).
    """
    rows = [{"source": source, "column": c, "psi": psi(p, frame[c])}
            for c, p in profiles.items() if c in frame.columns]
    table = pd.DataFrame(rows, columns=["source", "column", "psi"])
    table["warning"] = table["psi"] > PSI_WARNING
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)
