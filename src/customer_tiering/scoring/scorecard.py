"""The rule-based scorecard: criteria as versioned YAML, scoring as a points table.

A card (``serving/config/scorecard.yaml``) has a ``version``, a declared ``total`` and criteria.
Each criterion maps one feature to points, within its ``max_points``, by one of:

* ``steps``: bands ``[lower, upper)``; the band hit gives its points (seed 001's monthly sales);
* ``piecewise_linear``: inside a band, points go linearly from ``points_from`` at ``lower`` to
  ``points_to`` at ``upper`` (seed 001's "high growth: 10-20 points");
* ``judgement``: a rep-entered score on a range (0-10) passed through, scaled to the criterion's
  points, with a range check; optional labelled bands only name the ranges (健全/一般/差);
* ``categorical``: a map from category (customer type, region) to points.

A missing input follows the criterion's ``missing`` policy: ``zero`` points, ``neutral`` (fixed)
points, ``impute`` a value, or ``provisional`` (fixed points, and the grade is marked provisional).
``cap`` limits a criterion's points below its maximum (for example while a criterion is phased in).

:func:`score` is pure and vectorised; it returns :class:`Scores`, whose ``table()`` is the long
points table (one row per customer and criterion: input value, band hit, points) and whose
``total`` is the sum of those rows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from customer_tiering.core.columns import Columns
from customer_tiering.core.config_io import StrictModel, Version
from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.contract import FEATURE_COLUMNS

__all__ = [
    "MODEL_SCORE_COLUMNS",
    "Criterion",
    "Label",
    "ScorecardConfig",
    "Scores",
    "score",
]

# Columns that models add before the blend (issue 6); a card may score them like features.
MODEL_SCORE_COLUMNS: tuple[str, ...] = ("churn_probability", "expected_value_next_period")
_KNOWN_INPUTS = frozenset((*FEATURE_COLUMNS, *MODEL_SCORE_COLUMNS, "monetary_amount_365d"))


class Label(StrictModel):
    """A text in Chinese and English."""

    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class Band(StrictModel):
    """``[lower, upper)``; ``None`` is minus or plus infinity."""

    lower: float | None = None
    upper: float | None = None
    points: float | None = None
    points_from: float | None = None
    points_to: float | None = None
    label: Label | None = None


def _check_contiguous(bands: list[Band], lo: float | None = None, hi: float | None = None,
                      open_ends: bool = True) -> list[Band]:
    if not bands:
        raise ValueError("needs at least one band")
    if open_ends and bands[0].lower is not None:
        raise ValueError(f"@bands[0].lower: the first band must start at minus infinity "
                         f"(lower: null), not {bands[0].lower}, so every value is scored")
    if open_ends and bands[-1].upper is not None:
        raise ValueError(f"@bands[{len(bands) - 1}].upper: the last band must end at plus "
                         f"infinity (upper: null), not {bands[-1].upper}")
    if not open_ends:
        if bands[0].lower != lo:
            raise ValueError(f"@bands[0].lower: must be the range start {lo}")
        if bands[-1].upper != hi:
            raise ValueError(f"@bands[{len(bands) - 1}].upper: must be the range end {hi}")
    for i, band in enumerate(bands):
        if band.lower is not None and band.upper is not None and band.lower >= band.upper:
            raise ValueError(f"@bands[{i}]: lower {band.lower} must be below upper {band.upper}")
        if i and band.lower != bands[i - 1].upper:
            before = bands[i - 1].upper
            kind = "overlap" if (band.lower is not None and before is not None
                                 and band.lower < before) else "leave a gap"
            raise ValueError(f"@bands[{i}].lower: {band.lower} does not meet the previous band's "
                             f"upper {bands[i - 1].upper} (bands {kind}; they must be contiguous)")
    return bands


class StepScoring(StrictModel):
    type: Literal["steps"]
    bands: list[Band]

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: list[Band]) -> list[Band]:
        for i, b in enumerate(bands):
            if b.points is None or b.points_from is not None or b.points_to is not None:
                raise ValueError(f"@bands[{i}].points: a step band has exactly `points`")
        return _check_contiguous(bands)


class LinearScoring(StrictModel):
    type: Literal["piecewise_linear"]
    bands: list[Band]

    @field_validator("bands")
    @classmethod
    def _bands(cls, bands: list[Band]) -> list[Band]:
        for i, b in enumerate(bands):
            linear = b.points_from is not None or b.points_to is not None
            if linear and (b.points_from is None or b.points_to is None or b.points is not None):
                raise ValueError(f"@bands[{i}]: a linear band has `points_from` and `points_to` "
                                 "(and no `points`)")
            if linear and (b.lower is None or b.upper is None):
                raise ValueError(f"@bands[{i}]: a linear band needs finite lower and upper")
            if not linear and b.points is None:
                raise ValueError(f"@bands[{i}].points: a flat band needs `points`")
        return _check_contiguous(bands)


class JudgementScoring(StrictModel):
    type: Literal["judgement"]
    min: float = 0.0
    max: float = 10.0
    bands: list[Band] = Field(default_factory=list)  # labels of ranges only

    @model_validator(mode="after")
    def _range(self) -> JudgementScoring:
        if self.min >= self.max:
            raise ValueError(f"@min: {self.min} must be below max {self.max}")
        if self.bands:
            lo_band = [b.model_copy(update={"lower": b.lower}) for b in self.bands]
            last = lo_band[-1]
            if last.upper is not None and last.upper != self.max:
                raise ValueError(f"@bands[{len(lo_band) - 1}].upper: must be the range end "
                                 f"{self.max} or null")
            _check_contiguous(
                [*lo_band[:-1], last.model_copy(update={"upper": self.max})],
                self.min, self.max, open_ends=False,
            )
        return self


class CategoricalScoring(StrictModel):
    type: Literal["categorical"]
    points: dict[str, float]
    default: float | None = None  # points for a category not listed; None: treated as missing


Scoring = Annotated[
    StepScoring | LinearScoring | JudgementScoring | CategoricalScoring,
    Field(discriminator="type"),
]


class MissingPolicy(StrictModel):
    policy: Literal["zero", "neutral", "impute", "provisional"] = "zero"
    points: float | None = None  # neutral / provisional points
    value: float | str | None = None  # imputed input value


class Criterion(StrictModel):
    """One criterion of the card."""

    id: str
    label: Label
    feature: str
    max_points: float = Field(gt=0)
    cap: float | None = None
    unit: str | None = None
    scoring: Scoring
    missing: MissingPolicy = MissingPolicy()
    note: Label | None = None

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, feature: str) -> str:
        if feature not in _KNOWN_INPUTS:
            raise ValueError(f"{feature!r} is not a feature (known: {', '.join(sorted(_KNOWN_INPUTS))})")
        return feature

    @model_validator(mode="after")
    def _points_within_max(self) -> Criterion:
        top = self.max_points

        def check(value: float | None, where: str) -> None:
            if value is not None and not (0 <= value <= top):
                raise ValueError(f"@{where}: {value} points is outside 0..{top:g} (max_points)")

        scoring = self.scoring
        if isinstance(scoring, StepScoring | LinearScoring):
            for i, b in enumerate(scoring.bands):
                check(b.points, f"scoring.bands[{i}].points")
                check(b.points_from, f"scoring.bands[{i}].points_from")
                check(b.points_to, f"scoring.bands[{i}].points_to")
        elif isinstance(scoring, CategoricalScoring):
            for key, value in scoring.points.items():
                check(value, f"scoring.points.{key}")
            check(scoring.default, "scoring.default")
        check(self.cap, "cap")
        check(self.missing.points, "missing.points")
        if self.missing.policy == "neutral" and self.missing.points is None:
            raise ValueError("@missing.points: the neutral policy needs `points`")
        if self.missing.policy == "impute" and self.missing.value is None:
            raise ValueError("@missing.value: the impute policy needs `value`")
        if self.feature in ("customer_type", "region") and not isinstance(scoring,
                                                                          CategoricalScoring):
            raise ValueError(f"@scoring.type: {self.feature} is a category; use `categorical`")
        return self


class ScorecardConfig(StrictModel):
    """A whole card: version, declared total and criteria."""

    version: Version
    name: Label
    total: float = Field(gt=0)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _maxima_add_up(self) -> ScorecardConfig:
        seen: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.id in seen:
                raise ValueError(f"@criteria[{i}].id: {c.id!r} is used twice")
            seen.add(c.id)
        total = sum(c.max_points for c in self.criteria)
        if not math.isclose(total, self.total, abs_tol=1e-9):
            raise ValueError(f"@total: the criteria's max_points add up to {total:g}, not the "
                             f"declared total {self.total:g}")
        return self


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
        """The points of the customers in ``rows`` only."""
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
        total: np.ndarray = self.points.sum(axis=1)
        return total

    def wide(self) -> pd.DataFrame:
        """One row per customer: ``points_<criterion>`` columns, ``total``, ``provisional``."""
        frame = pd.DataFrame({"customer_id": self.customer_id})
        for j, c in enumerate(self.card.criteria):
            frame[f"points_{c.id}"] = self.points[:, j]
        frame["total"] = self.total
        frame["provisional"] = self.provisional
        return frame

    def band_labels(self, lang: str = "en") -> list[np.ndarray]:
        """Per criterion, the name of the band each customer hit ("missing" when the input was)."""
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
        """The long points table: customer, criterion, input value, band hit, points."""
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
    features : one row per customer; a feature column the card uses but the frame lacks is
        treated as missing for every customer (the missing policy applies).
    card : a validated :class:`ScorecardConfig`.

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
