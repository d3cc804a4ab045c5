"""Spreadsheet exports of a rating in seed 004's layout (XLSX with openpyxl, or CSV).

One row per customer, columns in four groups, as the table a sales-ops team keeps:

1. basic information: customer id, name, region, type;
2. indicator scores: one column per scorecard criterion and per model part (retention, value,
   segment), in points, so that the columns add up to the total;
3. model scores: ``churn_probability``, ``expected_value_next_period`` (over the rating's
   horizon), ``segment``;
4. overall evaluation: total, grade, previous grade, provisional, the policy's recommended actions
   and the plain-language reason.

The XLSX (:mod:`customer_tiering.rating.workbook`) has a first row naming the groups, a header
row, the data (frozen panes, filters, set up to print one page wide with the headers repeated),
and an "about" sheet with the rating's date, horizon, config and model versions. The CSV is UTF-8 with a
BOM (Excel opens it with the Chinese intact) and has the header row only.

Text that a spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage return)
is neutralised with a leading apostrophe (OWASP "CSV injection"); control characters that a
workbook cannot hold (all below U+0020 but tab and line breaks) are shown as U+FFFD, so that one
stray character in a name or a reason does not make the whole export fail.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from customer_tiering.core.errors import TieringError
from customer_tiering.rating.workbook import write_xlsx
from customer_tiering.store.tier_store import RatingRecord, TierStore

__all__ = ["about_rows", "cells", "export_columns", "export_frames", "export_rating",
           "group_names", "neutralise", "write_xlsx"]

Format = Literal["xlsx", "csv"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # openpyxl's ILLEGAL_CHARACTERS_RE

_BASIC = [("customer_id", "客户编号", "Customer ID"), ("customer_name", "客户名称", "Customer name"),
          ("region", "所在地区", "Region"), ("customer_type", "客户类型", "Customer type")]
_MODEL = [("churn_probability", "流失概率", "Churn probability"),
          ("expected_value", "预计下期价值", "Expected value, next period"),
          ("segment", "客户细分", "Segment")]
_OVERALL = [("total", "综合得分", "Total"), ("grade_label", "客户级别", "Grade"),
            ("previous_grade_label", "上期级别", "Previous grade"),
            ("provisional", "待定（缺少指标）", "Provisional (inputs missing)"),
            ("recommended_actions", "建议措施", "Recommended actions"),
            ("reason", "评级说明", "Reason")]
_GROUPS = {"basic": ("基本信息", "Basic information"), "scores": ("分级指标评分", "Indicator scores"),
           "model": ("模型评分", "Model scores"), "overall": ("综合评价", "Overall evaluation")}


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would evaluate as a formula with an apostrophe, and show
    control characters that a workbook cannot hold as U+FFFD.

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    object
        ``value``, or ``"'" + value`` for text starting with ``=``, ``+``, ``-``, ``@``, a tab
        or a carriage return; in text, control characters a workbook cannot hold become U+FFFD.
    """
    if not isinstance(value, str):
        return value
    value = _UNWRITABLE.sub("\ufffd", value)
    return "'" + value if value.startswith(_DANGEROUS) else value


def export_columns(record: RatingRecord, lang: str) -> list[tuple[str, str, str]]:
    """(key, header, group) of every exported column, in order.

    Parameters
    ----------
    record : RatingRecord
        The rating's header.
    lang : str
        ``zh`` or ``en``.

    Returns
    -------
    list of tuple of str
    """
    li = 0 if lang == "zh" else 1
    cols = [(k, names[li], "basic") for k, *names in _BASIC]
    for meta in record.criteria:
        unit = "分" if lang == "zh" else "points"
        cols.append((f"points.{meta['id']}", f"{meta[('zh', 'en')[li]]} ({unit})", "scores"))
    cols += [(k, names[li], "model") for k, *names in _MODEL]
    cols += [(k, names[li], "overall") for k, *names in _OVERALL]
    return cols


def export_frames(store: TierStore, record: RatingRecord, lang: str = "zh",
                  chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
    """The export's rows in chunks, keyed as :func:`export_columns` (values not yet neutralised).

    Parameters
    ----------
    store : TierStore
        The tier store.
    record : RatingRecord
        The rating's header.
    lang : str
        ``zh`` or ``en``.
    chunk_rows : int
        Customers per chunk.

    Yields
    ------
    pandas.DataFrame
    """
    li = 0 if lang == "zh" else 1
    labels = {g: v[("zh", "en")[li]] for g, v in record.grade_labels.items()}
    actions = {g: p["recommended_actions"][("zh", "en")[li]] for g, p in record.policies.items()}
    ids = [m["id"] for m in record.criteria]
    wanted = ["customer_id", "customer_name", "region", "customer_type", "segment",
              "churn_probability", "expected_value", "total", "grade", "previous_grade",
              "provisional", "points", "reason_zh", "reason_en"]
    for chunk in store.iter_grades(record.id, columns=wanted, chunk_rows=chunk_rows):
        points = pd.DataFrame([json.loads(p) for p in chunk["points"]], index=chunk.index)
        out = chunk[["customer_id", "customer_name", "region", "customer_type"]].copy()
        for cid in ids:
            out[f"points.{cid}"] = points[cid] if cid in points.columns else None
        out["churn_probability"] = chunk["churn_probability"]
        out["expected_value"] = chunk["expected_value"]
        out["segment"] = chunk["segment"]
        out["total"] = chunk["total"]
        out["grade_label"] = chunk["grade"].map(labels).fillna(chunk["grade"])
        out["previous_grade_label"] = chunk["previous_grade"].map(labels).fillna(
            chunk["previous_grade"])
        out["provisional"] = chunk["provisional"].map(
            {True: ("是", "yes")[li], False: ("否", "no")[li]})
        out["recommended_actions"] = chunk["grade"].map(actions)
        out["reason"] = chunk["reason_zh" if lang == "zh" else "reason_en"]
        # People read these: points to 2 decimals (the store keeps full precision, where the
        # explanation rows add up to the total within 1e-9), probabilities to 4.
        score_cols = [f"points.{cid}" for cid in ids] + ["total", "expected_value"]
        out[score_cols] = out[score_cols].apply(pd.to_numeric, errors="coerce").round(2)
        out["churn_probability"] = pd.to_numeric(out["churn_probability"]).round(4)
        yield out


def group_names(lang: str) -> dict[str, str]:
    """The column groups' names in ``lang`` (the workbook's first row)."""
    return {group: names[0 if lang == "zh" else 1] for group, names in _GROUPS.items()}


def about_rows(record: RatingRecord, lang: str) -> list[tuple[str, Any]]:
    """The About sheet's (name, value) rows: what the rating is, values neutralised.

    Parameters
    ----------
    record : RatingRecord
        The rating's header.
    lang : str
        ``zh`` or ``en``.

    Returns
    -------
    list of tuple
    """
    return [(name, neutralise(value)) for name, value in _about(record, lang)]


def _about(record: RatingRecord, lang: str) -> list[tuple[str, Any]]:
    zh = lang == "zh"
    rows: list[tuple[str, Any]] = [
        ("评级编号" if zh else "Rating", record.id),
        ("类型" if zh else "Kind", record.kind),
        ("评级日期" if zh else "As of", record.as_of.isoformat()),
        ("预测期（天）" if zh else "Horizon (days)", record.horizon_days),
        ("客户数" if zh else "Customers", record.customer_count),
        ("分级方案" if zh else "Grade scheme", record.scheme),
        ("生成时间" if zh else "Created", record.created_at.isoformat()),
    ]
    if record.configs.get("amounts_in"):
        rows.append(("金额单位" if zh else "Amounts in", record.configs["amounts_in"]))
    for check in record.checks or []:
        if not check["passed"]:
            rows.append(("检查警告" if zh else "Check warning", check["message"][lang if zh else
                                                                         "en"]))
    for name, version in record.configs.get("versions", {}).items():
        rows.append((f"{'配置' if zh else 'config'} {name}", version))
    for name, info in record.models.items():
        rows.append((f"{'模型' if zh else 'model'} {name}", f"version {info.get('version')}"))
    if record.reason:
        rows.append(("原因" if zh else "Reason", record.reason))
    return rows


def export_rating(store: TierStore, rating_id: int, path: str | os.PathLike[str], *,
                  fmt: Format = "xlsx", lang: str = "zh") -> Path:
    """Write rating ``rating_id`` to ``path`` as XLSX or CSV.

    The file is written beside its target and renamed into place, so a reader never sees half a
    file.

    Parameters
    ----------
    store : TierStore
        The tier store.
    rating_id : int
        The rating.
    path : str or os.PathLike
        The file to write.
    fmt : str
        ``xlsx`` or ``csv`` (UTF-8 with a BOM, for Excel).
    lang : str
        ``zh`` or ``en`` for the headers, labels and reasons.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TieringError
        For an unknown format, language or rating, and when the file cannot be written (a full
        disk, say); then no partial file is left.
    """
    if fmt not in ("xlsx", "csv"):
        raise TieringError(f"--format {fmt!r}: use xlsx or csv")
    if lang not in ("zh", "en"):
        raise TieringError(f"--lang {lang!r}: use zh or en")
    record = store.rating(rating_id)
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    columns = export_columns(record, lang)
    keys = [k for k, _, _ in columns]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            with partial.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([h for _, h, _ in columns])
                for frame in export_frames(store, record, lang):
                    writer.writerows(cells(frame, keys, missing=""))
        else:
            write_xlsx(partial, store, record, lang, columns)
        partial.replace(target)
    except BaseException as exc:
        # a full disk, a file size limit, an interrupt: no half file stays behind, and a
        # file already at ``target`` is untouched
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise TieringError(f"export of rating {rating_id} to {target} failed: "
                               f"{exc.strerror or exc}; nothing was written") from exc
        raise
    return target


def cells(frame: pd.DataFrame, keys: list[str], missing: Any = None) -> Iterator[list[Any]]:
    """Rows of ``frame[keys]`` as spreadsheet cells: ``missing`` for empty, text neutralised.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of :func:`export_frames`.
    keys : list of str
        The columns, in order.
    missing : object
        What an empty cell becomes.

    Yields
    ------
    list
        One row of cells.
    """
    for row in frame[keys].itertuples(index=False, name=None):
        yield [missing if v is None or (isinstance(v, float) and v != v) else neutralise(v)
               for v in row]
