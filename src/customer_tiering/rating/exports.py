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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from customer_tiering.core.errors import TieringError
from customer_tiering.i18n.catalogue import (
    check_lang,
    code,
    customer_type_name,
    grade_name,
    region_name,
    segment_name,
    text,
)
from customer_tiering.i18n.numbers import DECIMALS
from customer_tiering.rating.workbook import write_xlsx
from customer_tiering.store.tier_store import RatingRecord, TierStore

__all__ = ["about_rows", "cells", "export_columns", "export_frames", "export_rating",
           "group_names", "neutralise", "write_xlsx"]

Format = Literal["xlsx", "csv"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # openpyxl's ILLEGAL_CHARACTERS_RE

# Columns by group; each header is the catalogue's ``export_<key>`` (``export_grade`` for
# ``grade_label``, ``export_previous_grade`` for ``previous_grade_label``).
_BASIC = ["customer_id", "customer_name", "region", "customer_type"]
_MODEL = ["churn_probability", "expected_value", "segment"]
_OVERALL = ["total", "grade_label", "previous_grade_label", "provisional", "recommended_actions",
            "reason"]
_GROUPS = ("basic", "scores", "model", "overall")


def _header(key: str, lang: str) -> str:
    return text("export_" + key.removesuffix("_label"), lang)


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
    lang = check_lang(lang)
    cols = [(k, _header(k, lang), "basic") for k in _BASIC]
    for meta in record.criteria:
        cols.append((f"points.{meta['id']}",
                     text("export_points_unit", lang, criterion=meta[lang]), "scores"))
    cols += [(k, _header(k, lang), "model") for k in _MODEL]
    cols += [(k, _header(k, lang), "overall") for k in _OVERALL]
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
    lang = check_lang(lang)
    labels = record.grade_labels
    actions = {g: p["recommended_actions"][lang] for g, p in record.policies.items()}
    ids = [m["id"] for m in record.criteria]
    wanted = ["customer_id", "customer_name", "region", "customer_type", "segment",
              "churn_probability", "expected_value", "total", "grade", "previous_grade",
              "provisional", "points", "reason_zh", "reason_en"]
    for chunk in store.iter_grades(record.id, columns=wanted, chunk_rows=chunk_rows):
        points = pd.DataFrame([json.loads(p) for p in chunk["points"]], index=chunk.index)
        out = chunk[["customer_id", "customer_name"]].copy()
        # codes and data-set words in the export's language (an unknown one is data, kept)
        out["region"] = _words(chunk["region"], region_name, lang)
        out["customer_type"] = _words(chunk["customer_type"], customer_type_name, lang)
        for cid in ids:
            out[f"points.{cid}"] = points[cid] if cid in points.columns else None
        out["churn_probability"] = chunk["churn_probability"]
        out["expected_value"] = chunk["expected_value"]
        out["segment"] = _words(chunk["segment"], segment_name, lang)
        out["total"] = chunk["total"]
        def named(grade: Any, language: str) -> str:
            return grade_name(labels, grade, language)

        out["grade_label"] = _words(chunk["grade"], named, lang)
        out["previous_grade_label"] = _words(chunk["previous_grade"], named, lang)
        out["provisional"] = chunk["provisional"].map(
            {True: text("yes", lang), False: text("no", lang)})
        out["recommended_actions"] = chunk["grade"].map(actions)
        out["reason"] = chunk["reason_zh" if lang == "zh" else "reason_en"]
        # People read these: points to 2 decimals (the store keeps full precision, where the
        # explanation rows add up to the total within 1e-9), probabilities to 4.
        score_cols = [f"points.{cid}" for cid in ids] + ["total", "expected_value"]
        out[score_cols] = out[score_cols].apply(pd.to_numeric, errors="coerce").round(
            DECIMALS["points"])
        out["churn_probability"] = pd.to_numeric(out["churn_probability"]).round(
            DECIMALS["probability"])
        yield out


def _words(codes: pd.Series, name: Callable[[Any, str], str], lang: str) -> pd.Series:
    """``codes`` in words, each distinct code named once (a chunk has few); none stays None."""
    words = {c: name(c, lang) or None for c in codes.dropna().unique()}
    return codes.map(words).astype(object).where(codes.notna(), None)


def group_names(lang: str) -> dict[str, str]:
    """The column groups' names in ``lang`` (the workbook's first row)."""
    return {group: text(f"export_group_{group}", lang) for group in _GROUPS}


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
    lang = check_lang(lang)
    rows: list[tuple[str, Any]] = [
        (text("about_rating", lang), record.id),
        (text("about_kind", lang), code("rating_kind", record.kind, lang)),
        (text("about_as_of", lang), record.as_of.isoformat()),
        (text("about_horizon", lang), record.horizon_days),
        (text("about_customers", lang), record.customer_count),
        (text("about_scheme", lang), code("scheme", record.scheme, lang)),
        (text("about_created", lang), f"{record.created_at:%Y-%m-%d %H:%M:%S}"),
    ]
    if record.configs.get("amounts_in"):
        rows.append((text("about_amounts_in", lang), record.configs["amounts_in"]))
    for check in record.checks or []:
        if not check["passed"]:
            rows.append((text("about_check_warning", lang),
                         check["message"].get(lang, check["message"]["en"])))
    for name, version in record.configs.get("versions", {}).items():
        rows.append((text("about_config", lang, name=code("config", name, lang)), version))
    for name, info in record.models.items():
        rows.append((text("about_model", lang, name=code("model", name, lang)),
                     text("about_model_version", lang, version=info.get("version"))))
    if record.reason:
        rows.append((text("about_reason", lang), record.reason))
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
