"""Drift monitoring: distribution profiles and the population stability index (PSI).

A *profile* summarises one column of a reference population (the champion model's latest training
snapshot): for a number, the shares of ten quantile bins plus a missing bin; for a category, the
share of each level plus "other" and missing. :func:`psi` compares a new population with it:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with shares floored at 1e-4 so an empty bin does not give infinity. Customary reading: below 0.1
stable, 0.1-0.2 some shift, above 0.2 (:data:`PSI_WARNING`) a shift worth a look before trusting
the scores.

NULL is its own bin. A column that is NULL for everyone in both populations (a book without an
interactions file, say) has PSI 0. A column that goes from known to unknown (or back) is not a
matter of degree: :func:`drift_table` names it as such (``change``), whatever its PSI.

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

__all__ = ["PSI_WARNING", "drift_summary", "drift_table", "missing_change", "profile_column",
           "profile_frame", "psi"]

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
    if len(x) == 0:  # one (empty) bin for values, so that shares always has len(edges) + 1 items
        return {"kind": "numeric", "edges": [], "shares": [0.0], "missing": missing}
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
    shares = list(reference["shares"]) or [0.0]  # profiles saved before the empty bin was kept
    return (np.array([*shares, reference["missing"]], dtype=float),
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


def missing_change(reference: Mapping[str, Any], values: pd.Series | np.ndarray) -> str | None:
    """``"known -> unknown"`` or ``"unknown -> known"`` when a column's presence flips, else None.

    Parameters
    ----------
    reference
        A profile from :func:`profile_column` (its ``missing`` share).
    values
        The new population's values of the same column.

    Returns
    -------
    str or None
        ``"known -> unknown"`` when the reference had values and the new population has none,
        ``"unknown -> known"`` for the reverse; ``None`` otherwise (including NULL in both).
    """
    series = pd.Series(values)
    was_unknown = float(reference["missing"]) >= 1.0
    is_unknown = len(series) > 0 and bool(series.isna().all())
    if was_unknown == is_unknown:
        return None
    return "unknown -> known" if was_unknown else "known -> unknown"


def drift_table(profiles: Mapping[str, Mapping[str, Any]], frame: pd.DataFrame, *,
                source: str = "") -> pd.DataFrame:
    """PSI of every profiled column found in ``frame``, largest first, with the warning flag.

    Parameters
    ----------
    profiles
        Reference profiles by column (a model's ``reference_profile_``).
    frame
        The new population (one row per customer).
    source
        Who the profiles belong to (a model name), repeated on every row.

    Returns
    -------
    DataFrame
        ``source``, ``column``, ``psi``, ``change`` (see :func:`missing_change`; the PSI of such a
        column is left empty, since a share of 1 against a floor says nothing about degree) and
        ``warning`` (PSI above :data:`PSI_WARNING`, or a change).
    """
    rows = []
    for column, profile in profiles.items():
        if column not in frame.columns:
            continue
        change = missing_change(profile, frame[column])
        rows.append({"source": source, "column": column, "change": change,
                     "psi": float("nan") if change else psi(profile, frame[column])})
    table = pd.DataFrame(rows, columns=["source", "column", "psi", "change"])
    changed = table["change"].notna()
    table["change"] = table["change"].astype(object).where(changed, None)
    table["warning"] = (table["psi"] > PSI_WARNING) | changed
    table = table.sort_values(["warning", "psi"], ascending=False, kind="stable", na_position="first")
    return table.reset_index(drop=True)


def drift_summary(entries: Iterable[Mapping[str, Any]]) -> str:
    """One line for a rating's drift: how many columns shifted, which changed presence.

    Parameters
    ----------
    entries
        Rows of :func:`drift_table` as dicts (``column``, ``psi``, ``change``, ``warning``).

    Returns
    -------
    str
        E.g. ``"drift: 2 of 40 columns above PSI 0.2 (yoy_growth 0.41, ...); 1 known -> unknown
        (last_survey_score)"`` or ``"drift: none of 40 columns above PSI 0.2"``.
    """
    rows = list(entries)
    columns = {str(r["column"]) for r in rows}
    shifted: dict[str, float] = {}  # column -> largest PSI over the models that profile it
    for r in rows:
        if r.get("change") is None and r["warning"]:
            shifted[str(r["column"])] = max(shifted.get(str(r["column"]), 0.0), float(r["psi"]))
    changed = [r for r in rows if r.get("change") is not None]
    parts = []
    if shifted:
        top = ", ".join(f"{c} {v:.2f}" for c, v in
                        sorted(shifted.items(), key=lambda cv: -cv[1])[:3])
        more = ", ..." if len(shifted) > 3 else ""
        parts.append(f"{len(shifted)} of {len(columns)} columns above PSI {PSI_WARNING} "
                     f"({top}{more})")
    else:
        parts.append(f"none of {len(columns)} columns above PSI {PSI_WARNING}")
    for kind in ("known -> unknown", "unknown -> known"):
        names = sorted({r["column"] for r in changed if r["change"] == kind})
        if names:
            parts.append(f"{len(names)} {kind} ({', '.join(names)})")
    return "drift: " + "; ".join(parts)
