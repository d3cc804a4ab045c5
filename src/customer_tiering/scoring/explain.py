"""Explanations that add up: scorecard points + model contributions = the total, per customer.

For each customer the rows are:

* one row per scorecard criterion: its input, the band hit and its (weighted) points;
* per model criterion (retention, value): a **baseline** row (the points an average customer of
  the model's training data gets, ``f(bias)``), the ``top_features`` features that moved the points
  most (SHAP contributions apportioned by the secant rule, see :mod:`customer_tiering.scoring.blend`), and
  one **other features** row holding the rest;
* the segment adjustment, when configured.

The rows sum to the blended total: the scorecard rows are the points themselves, each model's rows
sum to its points by construction, and "other features" is computed as the model's points minus
its baseline and top rows, so rounding never accumulates beyond a few ulps.

A plain-language **reason** names the two or three largest movers: a model row's points (already a
move away from the baseline) or a criterion's points minus the population's mean points on it.

One story per customer, for the pages and the API: :mod:`customer_tiering.scoring.story`.

Storage form: :func:`explanation_records` gives one compact JSON document per customer;
:func:`rows_from_record` turns one back into rows (for the API, pages and exports).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.columns import Columns, is_number
from customer_tiering.i18n.catalogue import LANGS, text
from customer_tiering.ingest.contract import FEATURE_LABELS
from customer_tiering.scoring.blend import Blended, ModelPoints

__all__ = [
    "ROW_COLUMNS",
    "criteria_meta",
    "explanation_records",
    "explanation_rows",
    "reason_lines",
    "record_rows",
    "reference_means",
    "rows_from_record",
    "top_contributors",
]

ROW_COLUMNS = ("customer_id", "part", "item", "label", "value", "band", "points")
_OTHER = tuple(text("other_features", lang) for lang in LANGS)
_BASELINE = tuple(text("model_baseline", lang) for lang in LANGS)
REASON_MIN = 0.05  # points: smaller moves are not worth naming


def _lang_index(lang: str) -> int:
    return 0 if lang == "zh" else 1


def feature_label(feature: str, lang: str) -> str:
    """A feature's human name in ``lang`` (the column name when none is known).

    Parameters
    ----------
    feature : str
        A feature column.
    lang : str
        ``zh`` or ``en``.

    Returns
    -------
    str
    """
    names = FEATURE_LABELS.get(feature)
    return names[_lang_index(lang)] if names else feature


def top_contributors(part: ModelPoints, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` features with the largest absolute points per customer, and the rest.

    Parameters
    ----------
    part : ModelPoints
        One model's apportioned points.
    k : int
        How many features to name (at most the model's features).

    Returns
    -------
    index : numpy.ndarray
        ``(n, k)`` feature positions, ordered by decreasing absolute points.
    points : numpy.ndarray
        ``(n, k)`` their points.
    other : numpy.ndarray
        ``(n,)`` the model's points minus its baseline and the top rows.
    """
    values = part.feature_points
    n, f = values.shape
    k = min(k, f)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0)), part.points - part.base
    magnitude = np.abs(values)
    if k < f:
        index = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
    else:
        index = np.tile(np.arange(f), (n, 1))
    chosen = np.take_along_axis(magnitude, index, axis=1)
    order = np.argsort(-chosen, axis=1, kind="stable")
    index = np.take_along_axis(index, order, axis=1)
    points = np.take_along_axis(values, index, axis=1)
    other = part.points - part.base - points.sum(axis=1)
    return index, points, other


def criteria_meta(blended: Blended) -> list[dict[str, Any]]:
    """What the stored records refer to: criterion ids with their labels and maximum points.

    Parameters
    ----------
    blended : Blended
        The blended points of the population.

    Returns
    -------
    list of dict
        Per scorecard criterion, model part and segment part: ``part``, ``id``, ``zh``, ``en``,
        ``max_points`` (weighted) and, for a criterion, its ``feature`` and the blend's
        ``weight`` (``scorecard_weight``: the card's points count times it in the total).
    """
    w = blended.config.scorecard_weight
    meta = [{"part": "scorecard", "id": c.id, "zh": c.label.zh, "en": c.label.en,
             "feature": c.feature, "max_points": c.max_points * w, "weight": w}
            for c in blended.scorecard.card.criteria]
    for name, part in blended.models.items():
        meta.append({"part": name, "id": name, "zh": part.label.zh, "en": part.label.en,
                     "max_points": getattr(blended.config, name).max_points})
    if blended.config.segment is not None:
        seg = blended.config.segment
        meta.append({"part": "segment", "id": "segment", "zh": seg.label.zh, "en": seg.label.en,
                     "max_points": seg.max_points})
    return meta


def _plain(values: np.ndarray | pd.Series) -> list[Any]:
    """A column as Python values for JSON: numbers as float, text as str, missing as None."""
    if is_number(values.dtype):
        floats = (values.to_numpy(dtype=float, na_value=np.nan) if isinstance(values, pd.Series)
                  else np.asarray(values, dtype=float))
        return [None if v != v else v for v in floats.tolist()]
    return [None if pd.isna(v) else str(v) for v in list(values)]


def explanation_records(blended: Blended, features: pd.DataFrame | Columns) -> list[str]:
    """One compact JSON document per customer, in the order of ``blended``.

    Layout: ``{"scorecard": [[criterion, input, band_zh, band_en, points], ...],
    "<model>": [baseline, [[feature, value, points], ...], other], "segment": [name, points],
    "total": total}``. Columns are turned into Python lists once and the documents are
    serialised by orjson, since at a million customers this loop is a visible share of a rating.

    Parameters
    ----------
    blended : Blended
        The blended points of the population.
    features : pandas.DataFrame or Columns
        The features the population was scored on (the top features' values are taken here).

    Returns
    -------
    list of str
    """
    import orjson

    k = blended.config.top_features
    n = len(blended.customer_id)
    card = blended.scorecard.card
    ids = [c.id for c in card.criteria]
    inputs = [_plain(blended.scorecard.inputs[c.id]) for c in card.criteria]
    bands_zh = [b.tolist() for b in blended.scorecard.band_labels("zh")]
    bands_en = [b.tolist() for b in blended.scorecard.band_labels("en")]
    sc_points = blended.scorecard_points.tolist()
    tops = []
    plain: dict[str, np.ndarray] = {}  # each feature column made plain once, for all models

    source = Columns.of(features)

    def plain_column(feature: str) -> np.ndarray:
        if feature not in plain:
            values = _plain(source[feature]) if feature in source else [None] * n
            plain[feature] = np.asarray(values, dtype=object)
        return plain[feature]

    for name, part in blended.models.items():
        index, points, other = top_contributors(part, k)
        names = np.asarray(part.features, dtype=object)[index].tolist()
        columns = [plain_column(f) for f in part.features]
        matrix = np.column_stack(columns) if columns else np.empty((n, 0), dtype=object)
        values = np.take_along_axis(matrix, index, axis=1).tolist()
        tops.append((name, part.base.tolist(), names, values, points.tolist(), other.tolist()))
    total = blended.total.tolist()
    seg = None if blended.segment is None else [str(v) for v in blended.segment]
    seg_points = None if blended.segment_points is None else blended.segment_points.tolist()
    criteria = range(len(ids))
    out = []
    for i in range(n):
        row_points = sc_points[i]
        doc: dict[str, Any] = {"scorecard": [
            [ids[j], inputs[j][i], bands_zh[j][i], bands_en[j][i], row_points[j]]
            for j in criteria]}
        for name, base, names, values, points, other in tops:
            doc[name] = [base[i], [list(t) for t in zip(names[i], values[i], points[i],
                                                          strict=True)], other[i]]
        if seg is not None and seg_points is not None:
            doc["segment"] = [seg[i], seg_points[i]]
        doc["total"] = total[i]
        out.append(orjson.dumps(doc).decode())
    return out


def rows_from_record(customer_id: str, record: str | bytes | Mapping[str, Any],
                     criteria: Sequence[Mapping[str, Any]], lang: str = "en") -> pd.DataFrame:
    """Turn one stored explanation back into rows whose ``points`` sum to the total.

    Parameters
    ----------
    customer_id : str
        The customer.
    record : str, bytes or Mapping
        The JSON document from :func:`explanation_records` (text or parsed).
    criteria : sequence of Mapping
        The rating's :func:`criteria_meta` (labels of criteria and model parts).
    lang : str
        ``zh`` or ``en`` for the labels.

    Returns
    -------
    pandas.DataFrame
        The columns :data:`ROW_COLUMNS`.
    """
    return pd.DataFrame(record_rows(customer_id, record, criteria, lang),
                        columns=list(ROW_COLUMNS))


def record_rows(customer_id: str, record: str | bytes | Mapping[str, Any],
                criteria: Sequence[Mapping[str, Any]], lang: str = "en"
                ) -> list[tuple[Any, ...]]:
    """:func:`rows_from_record` as plain tuples (:data:`ROW_COLUMNS`), without the frame.

    Parameters
    ----------
    customer_id, record, criteria, lang
        As in :func:`rows_from_record`.

    Returns
    -------
    list of tuple
    """
    doc = json.loads(record) if isinstance(record, str | bytes) else record
    li = _lang_index(lang)
    labels = {m["id"]: m[("zh", "en")[li]] for m in criteria}
    rows: list[tuple[Any, ...]] = []
    for cid, value, band_zh, band_en, points in doc.get("scorecard", []):
        rows.append((customer_id, "scorecard", cid, labels.get(cid, cid), value,
                     (band_zh, band_en)[li], points))
    for name in ("retention", "value"):
        if name not in doc:
            continue
        base, top, other = doc[name]
        part_label = labels.get(name, name)
        rows.append((customer_id, name, "baseline", f"{part_label}: {_BASELINE[li]}", None, "",
                     base))
        for feature, value, points in top:
            rows.append((customer_id, name, feature, f"{part_label}: {feature_label(feature, lang)}",
                         value, "", points))
        rows.append((customer_id, name, "other", f"{part_label}: {_OTHER[li]}", None, "", other))
    if "segment" in doc:
        name, points = doc["segment"]
        rows.append((customer_id, "segment", "segment", labels.get("segment", "segment"), name, "",
                     points))
    return rows


def explanation_rows(blended: Blended, features: pd.DataFrame | Columns, lang: str = "en",
                     criteria: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """All customers' explanation rows as one long frame (for small populations and tests).

    Parameters
    ----------
    blended : Blended
        The blended points of the population.
    features : pandas.DataFrame or Columns
        The features the population was scored on.
    lang : str
        ``zh`` or ``en`` for the labels.
    criteria : sequence of Mapping, optional
        The labels to use (default: :func:`criteria_meta` of ``blended``).

    Returns
    -------
    pandas.DataFrame
        The columns :data:`ROW_COLUMNS`.
    """
    meta = criteria if criteria is not None else criteria_meta(blended)
    records = explanation_records(blended, features)
    frames = [rows_from_record(str(cid), rec, meta, lang)
              for cid, rec in zip(blended.customer_id, records, strict=True)]
    if not frames:
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def reference_means(blended: Blended) -> dict[str, float]:
    """Mean weighted points of each criterion (and the segment part) over the rated population.

    Stored with a rating so that a later special rating names its movers against the same
    reference.

    Parameters
    ----------
    blended : Blended
        The blended points of the population.

    Returns
    -------
    dict of str to float
        By criterion id (and ``segment``).
    """
    means = {c.id: float(np.mean(blended.scorecard_points[:, j])) if len(blended.customer_id)
             else 0.0 for j, c in enumerate(blended.scorecard.card.criteria)}
    if blended.segment_points is not None and len(blended.segment_points):
        means["segment"] = float(np.mean(blended.segment_points))
    return means


@functools.lru_cache(maxsize=64)
def _mover_labels(features: tuple[str, ...], part_zh: str, part_en: str) -> np.ndarray:
    """"zh\x1fen" names of a model's features for the reason lines (the same for every call)."""
    return np.array([text("reason_feature_of_part", "zh", feature=feature_label(f, "zh"),
                          part=part_zh.split("（")[0]) + "\x1f"
                     + text("reason_feature_of_part", "en", feature=feature_label(f, "en"),
                            part=part_en.split(" (")[0].lower())
                     for f in features], dtype=object)


def reason_lines(blended: Blended, means: Mapping[str, float], *, movers: int = 3
                 ) -> tuple[list[str], list[str]]:
    """The two or three largest movers of each customer, as a line in Chinese and in English.

    A criterion moves a customer by its points minus ``means[criterion]``; a model feature by its
    apportioned points (already a move away from the model's baseline).

    Parameters
    ----------
    blended : Blended
        The blended points of the population.
    means : Mapping of str to float
        :func:`reference_means` of the population to compare with.
    movers : int
        How many movers to name at most (moves under 0.05 points are not named).

    Returns
    -------
    zh, en : list of str
        One line per customer.
    """
    card = blended.scorecard.card
    k = blended.config.top_features
    columns: list[np.ndarray] = []
    names: list[np.ndarray] = []  # (n,) arrays of "zh|en" labels per column
    for j, c in enumerate(card.criteria):
        columns.append(blended.scorecard_points[:, j] - means.get(c.id, 0.0))
        names.append(np.full(len(blended.customer_id), f"{c.label.zh}\x1f{c.label.en}",
                             dtype=object))
    for part in blended.models.values():
        index, points, _ = top_contributors(part, k)
        labels = _mover_labels(tuple(part.features), part.label.zh, part.label.en)
        for m in range(points.shape[1]):
            columns.append(points[:, m])
            names.append(labels[index[:, m]])
    if blended.segment_points is not None and blended.config.segment is not None:
        seg = blended.config.segment
        columns.append(blended.segment_points - means.get("segment", 0.0))
        names.append(np.full(len(blended.customer_id), f"{seg.label.zh}\x1f{seg.label.en}",
                             dtype=object))
    if not columns:
        return [""] * len(blended.customer_id), [""] * len(blended.customer_id)
    moves = np.column_stack(columns)
    labels_all = np.column_stack(names)
    order = np.argsort(-np.abs(moves), axis=1, kind="stable")[:, :movers]
    zh_lines, en_lines = [], []
    # the words from the catalogue, once; the numbers are the moves, one decimal
    zh_movers, en_movers = (text("reason_movers", lang, movers="{}") for lang in LANGS)
    zh_sep, en_sep = (text("reason_separator", lang) for lang in LANGS)
    zh_close, en_close = (text("reason_close", lang) for lang in LANGS)
    for i in range(moves.shape[0]):
        zh_parts, en_parts = [], []
        for j in order[i]:
            move = moves[i, j]
            if abs(move) < REASON_MIN:
                continue
            zh, en = str(labels_all[i, j]).split("\x1f")
            zh_parts.append(f"{zh} {move:+.1f}")
            en_parts.append(f"{en} {move:+.1f}")
        zh_lines.append(zh_movers.format(zh_sep.join(zh_parts)) if zh_parts else zh_close)
        en_lines.append(en_movers.format(en_sep.join(en_parts)) if en_parts else en_close)
    return zh_lines, en_lines
