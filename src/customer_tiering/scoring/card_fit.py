"""Fitting a card to a book: band edges (and the blend's value anchors) from the book's own data.

A card's bands are absolute numbers (units per month, a growth ratio); the blend's value anchors
are amounts per 30 days. Written for one company, they grade another company's customers (another
currency, another customer scale) into one grade. :func:`fit_card` keeps the card's criteria,
points, band count and the grade scheme, and moves only the edges:

* ``quantile`` (default): each inner edge goes to the value below which the same share of this
  book's customers lies as in the book the card was written for (the card's
  ``fitted.edge_quantiles``; equal shares per band when the card does not say), rounded to a
  readable number (two significant digits, more only where two edges would meet);
* ``supervised``: edges where the churn rate in the window after ``as_of`` changes most, by a
  monotonic decision tree with as many leaves as the criterion has bands (scikit-learn's
  ``DecisionTreeClassifier(monotonic_cst=...)``: the pre-binning and monotonic constraint that
  optbinning builds on, without its solver dependencies); needs churn labels;
* ``locate``: edges unchanged; only records where they sit in this book (how the shipped card
  learned its shares).

A criterion whose input no customer has is switched to its stand-in when it has one (monthly
units -> monthly amount, for books without quantities) and fitted on that; otherwise left as it
is, and said so. Pure: features in, card + blend + comparison table out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.scoring.blend import BlendConfig
from customer_tiering.scoring.criteria import (
    Band,
    Criterion,
    FittedOn,
    JudgementScoring,
    Label,
    LinearScoring,
    ScorecardConfig,
    StepScoring,
)

__all__ = ["FEATURE_STAND_INS", "CardFit", "FitMethod", "fit_card", "value_per_30_days"]

FitMethod = Literal["quantile", "supervised", "locate"]

# A criterion's feature -> the feature that measures the same thing when a book lacks it.
FEATURE_STAND_INS: dict[str, str] = {"avg_monthly_units_12m": "avg_monthly_amount_12m"}
_DEFAULT_ANCHOR_QUANTILES = (0.2, 0.95)
_SHARE_TOLERANCE = 0.005
_REVENUE = "monetary_amount_365d"


@dataclass(frozen=True)
class CardFit:
    """A fitted card and blend, the table comparing them with the current ones, and notes."""

    card: ScorecardConfig
    blend: BlendConfig
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def value_per_30_days(columns: Columns) -> np.ndarray:
    """Each customer's revenue per 30 days (last 365 days x 30/365): what the value anchors are
    placed on (the value model's expected amount is on the same basis, but needs a model)."""
    return np.asarray(columns.numeric(_REVENUE) * 30.0 / 365.0)


def _readable(x: float, digits: int) -> float:
    return 0.0 if x == 0 else float(f"{x:.{digits}g}")


def _readable_edges(raw: list[float], scale: float) -> list[float]:
    """``raw`` rounded to two significant digits (more where two would meet), strictly rising."""
    out: list[float] = []
    for x in raw:
        value = None
        for digits in (2, 3, 4, 6):
            candidate = _readable(x, digits)
            if not out or candidate > out[-1]:
                value = candidate
                break
        if value is None:  # ties in the data: the next readable number above the edge before
            base = abs(out[-1]) or scale or 1.0
            value = _readable(out[-1] + 10.0 ** (math.floor(math.log10(base)) - 1), 6)
        out.append(value)
    return out


def _share_below(x: np.ndarray, edges: list[float]) -> list[float]:
    return [float(np.mean(x < e)) if len(x) else 0.0 for e in edges]


def _value_at_share(x: np.ndarray, share: float) -> float:
    """The smallest data value with at least ``share`` of ``x`` below or at it."""
    ordered = np.sort(x)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    # an edge is a lower bound: the share below it should be ``share``, so the edge sits just
    # above the value at that position (the next distinct value where there is one)
    above = ordered[ordered > ordered[index]]
    return float((ordered[index] + above[0]) / 2) if len(above) else float(ordered[index])


def _edges_at_shares(x: np.ndarray, shares: list[float], current: list[float]) -> list[float]:
    """The values with ``shares`` of ``x`` below them; an edge that already holds its share to
    half a percentage point stays where it is (a card fitted on its own book does not move)."""
    return [e if abs(float(np.mean(x < e)) - q) <= _SHARE_TOLERANCE else _value_at_share(x, q)
            for q, e in zip(shares, current, strict=True)]


def _supervised_edges(x: np.ndarray, churned: np.ndarray, n_bands: int) -> list[float] | None:
    from sklearn.tree import DecisionTreeClassifier

    if len(np.unique(churned)) < 2:
        return None
    rho = pd.Series(x).corr(pd.Series(churned), method="spearman")
    direction = -1 if not np.isfinite(rho) or rho <= 0 else 1
    tree = DecisionTreeClassifier(max_leaf_nodes=n_bands, min_samples_leaf=max(20, len(x) // 20),
                                  monotonic_cst=[direction], random_state=0)
    tree.fit(x.reshape(-1, 1), churned)
    inner = tree.tree_.children_left >= 0
    edges = sorted(float(t) for t in tree.tree_.threshold[inner])
    if not edges:
        return None
    # where the churn rate changes at fewer places than the card has edges, the other edges
    # split the most crowded bands at their medians (the band count is the card's)
    while len(edges) < n_bands - 1:
        bounds = [-np.inf, *edges, np.inf]
        counts = [((x >= lo) & (x < hi)).sum() for lo, hi in pairwise(bounds)]
        k = int(np.argmax(counts))
        inside = x[(x >= bounds[k]) & (x < bounds[k + 1])]
        middle = _value_at_share(inside, 0.5)
        if middle in edges or not bounds[k] < middle < bounds[k + 1]:
            return None
        edges = sorted([*edges, middle])
    return edges


def _edge_label(lower: float | None, upper: float | None, unit: str) -> Label:
    def num(v: float) -> str:
        return f"{v:,.6g}"

    suffix = f" {unit}" if unit else ""
    if lower is None:
        return Label(zh=f"低于 {num(upper or 0)}{suffix}", en=f"below {num(upper or 0)}{suffix}")
    if upper is None:
        return Label(zh=f"{num(lower)}{suffix} 及以上", en=f"{num(lower)}{suffix} or more")
    return Label(zh=f"{num(lower)}–{num(upper)}{suffix}", en=f"{num(lower)}–{num(upper)}{suffix}")


def _moved_bands(bands: list[Band], edges: list[float], unit: str) -> list[Band]:
    bounds: list[float | None] = [None, *edges, None]
    moved = []
    for i, band in enumerate(bands):
        lower, upper = bounds[i], bounds[i + 1]
        same = lower == band.lower and upper == band.upper
        label = band.label if same and band.label else _edge_label(lower, upper, unit)
        moved.append(band.model_copy(update={"lower": lower, "upper": upper, "label": label}))
    return moved


def _table_rows(c: Criterion, feature: str, bands: list[Band], new_edges: list[float],
                x: np.ndarray) -> list[dict[str, object]]:
    old_edges = [float(b.lower) for b in bands[1:] if b.lower is not None]
    def shares(edges: list[float]) -> list[float]:
        below = [0.0, *_share_below(x, edges), 1.0]
        return [below[i + 1] - below[i] for i in range(len(bands))]
    now, after = shares(old_edges), shares(new_edges)
    return [{"criterion": c.id, "feature": feature, "band": i,
             "current_edge": None if i == 0 else old_edges[i - 1],
             "proposed_edge": None if i == 0 else new_edges[i - 1],
             "share_now": now[i], "share_after": after[i]} for i in range(len(bands))]


def _fit_criterion(c: Criterion, columns: Columns, card: ScorecardConfig, method: FitMethod,
                   churned: np.ndarray | None, notes: list[str]
                   ) -> tuple[Criterion, list[float] | None, list[dict[str, object]]]:
    scoring = c.scoring
    assert isinstance(scoring, StepScoring | LinearScoring)
    bands = scoring.bands
    feature = c.feature
    x_all = columns.numeric(feature) if feature in columns else np.full(columns.n_rows, np.nan)
    stand_in = FEATURE_STAND_INS.get(feature)
    unit = c.unit or ""
    if not np.isfinite(x_all).any() and stand_in and stand_in in columns:
        notes.append(f"{c.id}: no customer has {feature}; fitted on {stand_in} instead")
        feature, x_all = stand_in, columns.numeric(stand_in)
        unit = f"{card.amount_unit or card.currency or ''}/月".lstrip("/") if card.amount_unit \
            or card.currency else ""
    finite = np.isfinite(x_all)
    x = x_all[finite]
    old_edges = [float(b.lower) for b in bands[1:] if b.lower is not None]
    if not len(x):
        notes.append(f"{c.id}: no customer has {feature}; bands left as they are")
        return c, None, _table_rows(c, feature, bands, old_edges, x)
    quantiles = (card.fitted.edge_quantiles.get(c.id) if card.fitted is not None else None)
    if quantiles is None:
        n = len(bands)
        quantiles = [k / n for k in range(1, n)]
    edges: list[float] | None = None
    if method == "locate":
        edges = old_edges
    elif method == "supervised":
        if churned is None:
            raise TieringError("--method supervised needs churn labels after as_of")
        edges = _supervised_edges(x, churned[finite], len(bands))
        if edges is None:
            notes.append(f"{c.id}: the churn rate does not change along {feature}; fitted by "
                         "quantile instead")
    if edges is None:
        scale = float(np.median(np.abs(x[x != 0]))) if (x != 0).any() else 1.0
        edges = _readable_edges(_edges_at_shares(x, quantiles, old_edges), scale)
    elif method == "supervised":
        scale = float(np.median(np.abs(x[x != 0]))) if (x != 0).any() else 1.0
        edges = _readable_edges(edges, scale)
    rows = _table_rows(c, feature, bands, edges, x)
    moved = _moved_bands(bands, edges, unit)
    fitted = c.model_copy(update={"feature": feature, "unit": unit or c.unit,
                                  "scoring": scoring.model_copy(update={"bands": moved})})
    # a quantile fit records the shares it aimed at, so fitting the fitted card again changes
    # nothing; the others record where their edges landed
    recorded = [round(q, 4) for q in (quantiles if method == "quantile"
                                      else _share_below(x, edges))]
    return fitted, recorded, rows


def _judgement_without_input(c: Criterion, columns: Columns, notes: list[str]) -> Criterion:
    """A rep's judgement no customer has (a book without an interactions file) scores the middle
    of its range, provisionally, instead of the card's missing points (often 0): a card whose
    judgements are all missing would otherwise put every customer below its upper grades."""
    x = columns.numeric(c.feature) if c.feature in columns else np.full(columns.n_rows, np.nan)
    middle = c.max_points / 2
    if np.isfinite(x).any() or (c.missing.points or 0.0) >= middle:
        return c
    notes.append(f"{c.id}: no customer has {c.feature}; a missing input now scores "
                 f"{middle:g} of {c.max_points:g} points (the middle of the range), provisionally")
    return c.model_copy(update={"missing": c.missing.model_copy(
        update={"policy": "provisional", "points": middle})})


def _fit_value_anchors(blend: BlendConfig, columns: Columns, method: FitMethod
                       ) -> tuple[BlendConfig, list[dict[str, object]]]:
    value = blend.value
    if value is None or _REVENUE not in columns:
        return blend, []
    x = value_per_30_days(columns)
    x = x[np.isfinite(x)]
    old = [value.zero_points_at, value.full_points_at]
    if not len(x):
        return blend, []
    if method == "locate":
        new = old
    else:
        targets = value.anchor_quantiles or _DEFAULT_ANCHOR_QUANTILES
        positive = x[x > 0]
        scale = float(np.median(positive)) if len(positive) else 1.0
        raw = [max(e, scale * 1e-3) for e in _edges_at_shares(x, list(targets), old)]
        new = _readable_edges(raw, scale)
    located = tuple(round(q, 4) for q in (value.anchor_quantiles or _DEFAULT_ANCHOR_QUANTILES
                                          if method == "quantile" else _share_below(x, new)))
    fitted = value.model_copy(update={"zero_points_at": new[0], "full_points_at": new[1],
                                      "anchor_quantiles": (located[0], max(located[1],
                                                                           located[0] + 1e-6))})
    rows: list[dict[str, object]] = [
        {"criterion": "value", "feature": "revenue per 30 days", "band": name,
         "current_edge": o, "proposed_edge": n, "share_now": float(np.mean(x < o)),
         "share_after": float(np.mean(x < n))}
        for name, o, n in zip(("0 points", "full points"), old, new, strict=True)]
    return blend.model_copy(update={"value": fitted}), rows


def fit_card(features: pd.DataFrame | Columns, card: ScorecardConfig, blend: BlendConfig, *,
             as_of: date, description: str, method: FitMethod = "quantile",
             churned: np.ndarray | None = None, data_fingerprint: str | None = None,
             version: str | None = None) -> CardFit:
    """Propose band edges and value anchors for ``card`` and ``blend`` from ``features``.

    Parameters
    ----------
    features : pandas.DataFrame or Columns
        Every customer's point-in-time features at ``as_of``.
    card, blend : ScorecardConfig, BlendConfig
        The current configs; criteria, points, band counts and weights are kept.
    as_of : datetime.date
        The date the features were computed at (recorded in the card).
    description : str
        What the book is (recorded in the card's ``fitted`` header).
    method : {"quantile", "supervised", "locate"}
        See the module documentation.
    churned : numpy.ndarray, optional
        1 where the customer churned in the window after ``as_of`` (``supervised`` only).
    data_fingerprint : str, optional
        The data set's fingerprint, recorded with the fit.
    version : str, optional
        The fitted card's version (default: the card's, with ``-fit``).

    Returns
    -------
    CardFit
        The fitted card and blend (validated), the comparison table and notes.
    """
    columns = Columns.of(features)
    notes: list[str] = []
    criteria: list[Criterion] = []
    rows: list[dict[str, object]] = []
    located: dict[str, list[float]] = {}
    for c in card.criteria:
        if isinstance(c.scoring, JudgementScoring) and method != "locate":
            criteria.append(_judgement_without_input(c, columns, notes))
            continue
        if not isinstance(c.scoring, StepScoring | LinearScoring):
            criteria.append(c)
            continue
        fitted, shares, c_rows = _fit_criterion(c, columns, card, method, churned, notes)
        criteria.append(fitted)
        rows.extend(c_rows)
        if shares is not None:
            located[c.id] = shares
    fitted_on = FittedOn(description=description, method=method, as_of=as_of,
                         customers=columns.n_rows, data_fingerprint=data_fingerprint,
                         edge_quantiles=located)
    new_version = version or (card.version if method == "locate"
                              else f"{card.version.split('-fit')[0]}-fit")
    new_card = ScorecardConfig.model_validate({
        **card.model_dump(), "version": new_version, "fitted": fitted_on.model_dump(),
        "criteria": [c.model_dump() for c in criteria]})
    new_blend, value_rows = _fit_value_anchors(blend, columns, method)
    new_blend = BlendConfig.model_validate({**new_blend.model_dump(), "version": new_version})
    return CardFit(new_card, new_blend, pd.DataFrame(rows + value_rows), notes)
