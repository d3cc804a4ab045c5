"""Scoring a card: every customer's points on every criterion, as a points table.

The card and its rules are :mod:`customer_tiering.scoring.criteria`. :func:`score` is pure and
vectorised; it returns :class:`Scores`, whose ``table()`` is the long points table (one row per
customer and criterion: input value, band hit, points) and whose ``total`` is the sum of those rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import InputError, Problem
from customer_tiering.scoring.criteria import (
    MODEL_SCORE_COLUMNS,
    Band,
    CategoricalScoring,
    Criterion,
    JudgementScoring,
    Label,
    LinearScoring,
    ScorecardConfig,
    StepScoring,
)

# The card's configuration is importable from here too, where callers have always found it.
__all__ = [
    "MODEL_SCORE_COLUMNS",
    "Criterion",
    "JudgementScoring",
    "Label",
    "LinearScoring",
    "ScorecardConfig",
    "Scores",
    "StepScoring",
    "score",
]


@dataclass(frozen=True)
class Scores:
    """Points of every customer on every criterion of a card.

    ``points[i, j]`` is customer ``i``'s points on criterion ``j``; ``band[i, j]`` the index of the
    band hit (-1 when the input was missing or the scoring has no bands); ``total`` the row sums.
    """

    card: ScorecardConfig
    ids: Columns | np.ndarray  # the customer ids, or the columns to read them from when needed
    inputs: dict[str, np.ndarray]
    points: np.ndarray
    missing: np.ndarray
    provisional: np.ndarray

    @functools.cached_property
    def customer_id(self) -> np.ndarray:
        """Customer ids, read from the features only when asked (grading needs none: turning a
        million ids into Python strings costs as much as scoring them)."""
        if not isinstance(self.ids, Columns):
            return self.ids
        if "customer_id" not in self.ids:
            return np.arange(self.ids.n_rows)
        return self.ids.text("customer_id")

    def subset(self, rows: slice) -> Scores:
        """The points of the customers in ``rows`` only.

        Parameters
        ----------
        rows : slice
            Positions of the customers.

        Returns
        -------
        Scores
        """
        return Scores(self.card, self.customer_id[rows],
                      {k: v[rows] for k, v in self.inputs.items()}, self.points[rows],
                      self.missing[rows], self.provisional[rows])

    @functools.cached_property
    def band(self) -> np.ndarray:
        """Index of the band hit per customer and criterion (-1: missing, or no bands).

        Computed on demand, once: grading needs only the points; the explanation needs the
        bands (in two languages).
        """
        n, k = self.points.shape
        out = np.full((n, k), -1, dtype=np.int64)
        for j, c in enumerate(self.card.criteria):
            bands = getattr(c.scoring, "bands", [])
            if bands and not isinstance(c.scoring, CategoricalScoring):
                x = np.where(self.missing[:, j], 0.0, self.inputs[c.id].astype(float))
                out[:, j] = np.where(self.missing[:, j], -1, _band_index(x, _lowers(bands)))
        return out

    @property
    def total(self) -> np.ndarray:
        """Each customer's total: the sum of its points over the criteria."""
        total: np.ndarray = self.points.sum(axis=1)
        return total

    def wide(self) -> pd.DataFrame:
        """One row per customer.

        Returns
        -------
        pandas.DataFrame
            ``customer_id``, ``points_<criterion>`` per criterion, ``total`` and ``provisional``.
        """
        frame = pd.DataFrame({"customer_id": self.customer_id})
        for j, c in enumerate(self.card.criteria):
            frame[f"points_{c.id}"] = self.points[:, j]
        frame["total"] = self.total
        frame["provisional"] = self.provisional
        return frame

    def band_labels(self, lang: str = "en") -> list[np.ndarray]:
        """Per criterion, the name of the band each customer hit.

        Parameters
        ----------
        lang : str
            ``zh`` or ``en``: bands with a label use it; others show as ``[lower, upper)``.

        Returns
        -------
        list of numpy.ndarray
            One array per criterion: the band's name, "missing" where the input was missing, empty
            for a scoring without bands.
        """
        labels = []
        band = self.band
        for j, c in enumerate(self.card.criteria):
            bands = getattr(c.scoring, "bands", [])
            names = np.array([b.label.text(lang) if b.label else _band_text(b) for b in bands]
                             + ["missing"], dtype=object)
            idx = np.where(self.missing[:, j], len(bands), np.where(band[:, j] < 0,
                                                                     len(bands), band[:, j]))
            col = names[idx]
            if not bands:
                col = np.where(self.missing[:, j], "missing", "")
            labels.append(col)
        return labels

    def table(self, lang: str = "en") -> pd.DataFrame:
        """The long points table: customer, criterion, input value, band hit, points.

        Parameters
        ----------
        lang : str
            ``zh`` or ``en``, for the band names.

        Returns
        -------
        pandas.DataFrame
            One row per customer and criterion: ``customer_id``, ``criterion``, ``feature``,
            ``input_value``, ``missing``, ``band`` and ``points``; each customer's rows add up to
            its ``total``.
        """
        n, k = self.points.shape
        labels = self.band_labels(lang)
        return pd.DataFrame({
            "customer_id": np.repeat(self.customer_id, k),
            "criterion": np.tile([c.id for c in self.card.criteria], n),
            "feature": np.tile([c.feature for c in self.card.criteria], n),
            "input_value": np.column_stack([self.inputs[c.id] for c in self.card.criteria]
                                           ).reshape(-1) if n else [],
            "missing": self.missing.reshape(-1),
            "band": np.column_stack(labels).reshape(-1) if n else [],
            "points": self.points.reshape(-1),
        })


def _band_text(band: Band) -> str:
    lo = "-inf" if band.lower is None else f"{band.lower:g}"
    hi = "inf" if band.upper is None else f"{band.upper:g}"
    return f"[{lo}, {hi})"


def _lowers(bands: list[Band]) -> np.ndarray:
    return np.array([-np.inf if b.lower is None else b.lower for b in bands[1:]], dtype=float)


def _band_index(x: np.ndarray, lowers: np.ndarray) -> np.ndarray:
    """Index of the band ``[lower, upper)`` holding each value (bands given by their lowers).

    A sum of comparisons: for the handful of bands a card has this is several times faster than
    ``np.searchsorted`` (which pays a binary search per value); many bands fall back to it.
    """
    if len(lowers) > 8:
        return np.searchsorted(lowers, x, side="right")
    index = np.zeros(x.shape, dtype=np.int8)
    for lower in lowers:
        index += x >= lower
    return index


def _score_numeric(c: Criterion, x: np.ndarray) -> np.ndarray:
    scoring = c.scoring
    if isinstance(scoring, JudgementScoring):
        per_unit = c.max_points / (scoring.max - scoring.min)
        judged: np.ndarray = (np.clip(x, scoring.min, scoring.max) - scoring.min) * per_unit
        return judged
    assert isinstance(scoring, StepScoring | LinearScoring)
    bands = scoring.bands
    band = _band_index(x, _lowers(bands))
    if isinstance(scoring, StepScoring):
        flat: np.ndarray = np.array([b.points for b in bands], dtype=float)[band]
        return flat
    # flat bands as p0 + (x - 0) / 1 * 0; linear ones interpolate from points_from to points_to
    lo = np.array([b.lower if b.points_from is not None else 0.0 for b in bands], dtype=float)
    width = np.array([(b.upper or 0.0) - (b.lower or 0.0) if b.points_from is not None else 1.0
                      for b in bands], dtype=float)
    p0 = np.array([b.points_from if b.points_from is not None else b.points for b in bands],
                  dtype=float)
    rise = np.array([(b.points_to or 0.0) - (b.points_from or 0.0) if b.points_from is not None
                     else 0.0 for b in bands], dtype=float)
    linear: np.ndarray = p0[band] + (x - lo[band]) / width[band] * rise[band]
    return linear


def _category_points(values: np.ndarray, points: dict[str, float]) -> np.ndarray:
    """Points of each value's category, NaN where the category is not on the card."""
    levels = list(points)
    table = np.array([points[level] for level in levels] + [np.nan], dtype=float)
    found = pd.Index(levels, dtype=object).get_indexer(pd.Index(values, dtype=object))  # -1: NaN
    return table[found]


def score(features: pd.DataFrame | Columns, card: ScorecardConfig) -> Scores:
    """Score every row of ``features`` (``customer_id`` + the card's feature columns).

    Parameters
    ----------
    features : pandas.DataFrame or Columns
        One row per customer; a feature column the card uses but the frame lacks is treated as
        missing for every customer (the missing policy applies).
    card : ScorecardConfig
        A validated card.

    Returns
    -------
    Scores
        Points, missing inputs and provisional flags of every customer on every criterion.

    Raises
    ------
    InputError
        When a judgement input lies outside its range (naming the rows and the column).
    """
    columns = Columns.of(features)
    n = columns.n_rows
    k = len(card.criteria)
    points = np.zeros((n, k))
    missing = np.zeros((n, k), dtype=bool)
    provisional = np.zeros(n, dtype=bool)
    inputs: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    for j, c in enumerate(card.criteria):
        policy = c.missing
        if isinstance(c.scoring, CategoricalScoring):
            values = columns.text(c.feature)
            is_missing = pd.isna(values)
            if policy.policy == "impute":
                values = np.where(is_missing, str(policy.value), values)
                is_missing = np.zeros(n, dtype=bool)
            mapped = _category_points(values, c.scoring.points)
            unknown = ~is_missing & np.isnan(mapped)
            if c.scoring.default is not None:
                mapped = np.where(unknown, c.scoring.default, mapped)
            else:
                is_missing = is_missing | unknown
            pts = np.nan_to_num(mapped)
            inputs[c.id] = values
        else:
            x = columns.numeric(c.feature)
            is_missing = np.isnan(x)
            if policy.policy == "impute":
                x = np.where(is_missing, float(policy.value or 0.0), x)
                is_missing = np.zeros(n, dtype=bool)
            if isinstance(c.scoring, JudgementScoring):
                s = c.scoring
                bad = ~is_missing & ((x < s.min) | (x > s.max))
                for i in np.flatnonzero(bad)[:20]:
                    problems.append(Problem("features", int(i) + 1, c.feature, f"{x[i]:g}",
                                            f"is outside {s.min:g}..{s.max:g} ({c.id})"))
            pts = _score_numeric(c, np.where(is_missing, 0.0, x) if is_missing.any() else x)
            inputs[c.id] = x
        fill = 0.0 if policy.policy == "zero" else (policy.points or 0.0)
        pts = np.where(is_missing, fill, pts)
        if c.cap is not None:
            pts = np.minimum(pts, c.cap)
        if policy.policy == "provisional":
            provisional |= is_missing
        points[:, j] = pts
        missing[:, j] = is_missing
    if problems:
        raise InputError(problems, summary="scorecard inputs out of range")
    return Scores(card, columns, inputs, points, missing, provisional)
