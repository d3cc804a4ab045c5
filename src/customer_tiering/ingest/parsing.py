"""Vectorised parsing of raw cell values into canonical types, with the rule each bad value breaks.

Every parser takes a pandas Series of raw cells (strings from CSV, typed values from XLSX, Parquet or
a database) and returns a :class:`Parsed`: the parsed Series and, for each cell that could not be
parsed, the rule it broke. Empty cells become missing values; whether missing is allowed is the
caller's business (:mod:`customer_tiering.ingest.loading`).

Two rules guard against values that load but are wrong. A number written as text is read with
one decimal separator, ``.`` unless the column mapping declares ``decimal: ","``; the other mark
is accepted only as a thousands separator in its place (``1,234.50``, or ``1.234,50`` with a
decimal comma), so ``1.234,50`` or ``1,5`` in a dot-decimal file is refused as ambiguous instead
of being read as 1.2345 or 15. And ids and text must be printable: a control character (a NUL
byte, which PostgreSQL cannot store, or another C0/C1 control) is an error, and so is an
invisible format character (zero-width space, BOM) in an id, which would make two ids that look
the same differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORY_LABELS",
    "DecimalMark",
    "Parsed",
    "is_blank",
    "parse_category",
    "parse_date",
    "parse_id",
    "parse_number",
    "parse_text",
    "parse_timestamp",
]

# Chinese (and common English) labels mapped to the canonical category values.
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "customer_type": {
        "医院": "hospital", "公立医院": "hospital", "民营医院": "hospital",
        "连锁药店": "chain_pharmacy", "连锁": "chain_pharmacy", "连锁药房": "chain_pharmacy",
        "单体药店": "single_pharmacy", "单体": "single_pharmacy", "单店": "single_pharmacy",
        "大药房": "large_pharmacy",
        "诊所": "clinic", "卫生院": "clinic", "社区卫生服务中心": "clinic",
        "代理商": "distributor", "经销商": "distributor", "商业公司": "distributor",
        "配送商": "distributor", "agent": "distributor", "wholesaler": "distributor",
        "chain": "chain_pharmacy", "pharmacy": "single_pharmacy",
    },
    "interaction_type": {
        "拜访": "visit", "走访": "visit", "投诉": "complaint", "调查": "survey",
        "问卷": "survey", "满意度调查": "survey",
    },
}

_FULL_WIDTH = str.maketrans("０１２３４５６７８９，．－＋（）", "0123456789,.-+()")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Excel serial numbers accepted as dates: 1982-10-13 .. 2173-10-14 (30000 .. 100000).
_EXCEL_SERIAL_RANGE = (30_000.0, 100_000.0)
_DATE_FORMS = "YYYY-MM-DD, YYYY/MM/DD, YYYY年M月D日, YYYYMMDD, DD.MM.YYYY or an Excel serial number"
# Dates accepted: Excel holds none before 1900, so an earlier one is a typo or a placeholder
# (0001-01-01), and one after 2199 is no order, contract or visit.
_DATE_RANGE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01"))
_OUT_OF_RANGE = "is outside the dates accepted (1900-01-01 to 2199-12-31)"

DecimalMark = Literal[".", ","]
"""The decimal separator of numbers written as text."""

# With each decimal separator, the only place the other mark may stand: between groups of three
# digits before the decimal part.
_GROUPED = {".": r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", ",": r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?"}
_AMBIGUOUS = {
    ".": "is ambiguous: its comma is not a thousands separator (as in 1,234.50); if the file "
         "writes decimal commas (1.234,50), declare decimal: \",\" in the --mapping file",
    ",": "is not a number with a decimal comma (as in 1.234,50, declared by the --mapping file): "
         "its dot is not a thousands separator",
}
# Control characters (C0 but tab, line feed and carriage return, DEL, C1) in any text; in an id
# also tab and line breaks, and invisible format characters (zero-width, direction marks, BOM).
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_IN_ID = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e"
                            "\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class Parsed:
    """Parsed values and the rule broken by each bad cell (index label -> rule)."""

    values: pd.Series
    errors: pd.Series  # str rules, indexed like the bad cells only

    @staticmethod
    def ok(values: pd.Series) -> Parsed:
        """Values of which none is bad.

        Parameters
        ----------
        values : pandas.Series
            The parsed values.

        Returns
        -------
        Parsed
            With no errors.
        """
        return Parsed(values, pd.Series([], dtype="object", index=values.index[:0]))


def is_blank(raw: pd.Series) -> pd.Series:
    """True where a cell is missing or only white space (or spells nan, none, null, nat).

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).

    Returns
    -------
    pandas.Series of bool
    """
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        text = raw.astype("str").str.strip()
        return raw.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null", "nat"])
    return raw.isna()


def _as_text(raw: pd.Series) -> pd.Series:
    """Cells as stripped text; whole floats (Excel ids read as 1001.0) lose their '.0'."""
    if pd.api.types.is_float_dtype(raw.dtype):
        whole = raw.notna() & np.isfinite(raw.to_numpy(dtype="float64", na_value=np.nan))
        whole &= raw.fillna(0) == raw.fillna(0).round()
        text = raw.astype("str")
        text = text.where(~whole, raw.where(whole).fillna(0).astype("int64").astype("str"))
        return text.where(raw.notna())
    if raw.dtype == object:
        def one(v: object) -> object:
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return v if v is None or isinstance(v, str) else str(v)

        raw = raw.map(one)
    return raw.astype("str").str.strip().where(~is_blank(raw))


def _unprintable(text: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    """The rule broken by each cell of ``text`` holding a character ``pattern`` refuses."""
    holds = text.str.contains(pattern.pattern).fillna(False).to_numpy(dtype=bool)
    if not holds.any():  # the common case, checked at C speed
        return pd.Series([], index=text.index[:0], dtype="object")
    found = text[holds].str.extract(f"({pattern.pattern})", expand=False).dropna()
    return pd.Series([f"contains the control character U+{ord(c):04X} ({_char_name(c)}); ids "
                      "and text must be printable" for c in found], index=found.index,
                     dtype="object")


_CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                  "\x1b": "ESC", "\x7f": "DEL"}


def _char_name(char: str) -> str:
    import unicodedata

    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    return str(name) if name else "a control character"


def parse_id(raw: pd.Series) -> Parsed:
    """Identifiers as strings (``1001``, ``C-0042``); never parsed as numbers.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).

    Returns
    -------
    Parsed
        Stripped strings; a whole float (an Excel id read as 1001.0) loses its ``.0``. An id
        holding a control or invisible format character (a NUL byte, a zero-width space) is an
        error naming the character.
    """
    text = _as_text(raw).astype("str")
    return Parsed(text, _unprintable(text, _CONTROL_IN_ID))


def parse_text(raw: pd.Series) -> Parsed:
    """Free text, stripped; empty cells missing.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).

    Returns
    -------
    Parsed
        Text holding a control character (a NUL byte; tab and line breaks are allowed) is an
        error naming the character.
    """
    text = _as_text(raw).astype("str")
    return Parsed(text, _unprintable(text, _CONTROL_IN_TEXT))


def parse_category(raw: pd.Series, column: str, allowed: tuple[str, ...] | None) -> Parsed:
    """Category labels: Chinese labels mapped, lower-cased, spaces to underscores.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).
    column : str
        The column's canonical name (which picks its Chinese labels in :data:`CATEGORY_LABELS`).
    allowed : tuple of str or None
        The values allowed after mapping, or None for an open column.

    Returns
    -------
    Parsed
        A value outside ``allowed`` is an error ("is not one of ..."), and so is a value holding
        a control character.
    """
    text = _as_text(raw)
    unprintable = _unprintable(text, _CONTROL_IN_TEXT)
    labels = CATEGORY_LABELS.get(column, {})
    mapped = text.map(lambda v: labels.get(v, labels.get(str(v).lower(), v)) if isinstance(v, str)
                      else v)
    norm = mapped.where(mapped.isna(), mapped.astype("str").str.lower().str.replace(
        r"[\s\-]+", "_", regex=True))
    errors = pd.Series([], dtype="object")
    if allowed is not None:
        bad = norm.notna() & ~norm.isin(allowed) & ~norm.index.isin(unprintable.index)
        errors = pd.Series(f"is not one of {', '.join(allowed)}", index=norm.index[bad])
    return Parsed(norm.astype("str"), pd.concat([unprintable, errors]))


def parse_number(raw: pd.Series, decimal: DecimalMark = ".") -> Parsed:
    """Numbers; accepts thousands separators, currency signs, full-width digits, (123) negatives.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).
    decimal : {".", ","}
        The decimal separator of numbers written as text; the other mark is accepted only as a
        thousands separator (``1,234.50``, or ``1.234,50`` with ``","``). Typed numbers (XLSX,
        Parquet, database) are taken as they are.

    Returns
    -------
    Parsed
        ``float64``; text that is not a number, a separator in no allowed place (``1,5`` or
        ``1.234,50`` with ``"."``), and infinities are errors.
    """
    blank = is_blank(raw)
    ambiguous = pd.Series(False, index=raw.index)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("float64")
    else:
        typed = _typed_numbers(raw)
        text = raw.astype("str").str.strip().str.translate(_FULL_WIDTH)
        text = text.str.replace(r"[\s¥￥$€'_]|RMB|CNY|元", "", regex=True)
        text = text.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
        text, ambiguous = _one_decimal_separator(text, decimal)
        ambiguous &= ~blank & typed.isna()
        values = pd.to_numeric(text.where(~blank & ~ambiguous), errors="coerce").astype("float64")
        finite_text = text.str.lower().str.lstrip("+-").isin(["inf", "infinity", "nan"])
        values = values.where(~finite_text, np.inf)
        values = values.where(typed.isna(), typed)
    not_number = values.isna() & ~blank & ~ambiguous
    not_finite = ~values.isna() & ~np.isfinite(values.to_numpy(dtype="float64", na_value=0.0))
    errors = pd.concat([
        pd.Series("is not a number", index=raw.index[not_number.to_numpy()]),
        pd.Series(_AMBIGUOUS[decimal], index=raw.index[ambiguous.to_numpy()]),
        pd.Series("is not a finite number", index=raw.index[not_finite.to_numpy()]),
    ])
    values = values.where(~not_finite)
    return Parsed(values, errors)


def _typed_numbers(raw: pd.Series) -> pd.Series:
    """The cells of an object column that are numbers already (XLSX, database), as floats; NaN
    elsewhere. Text columns have none."""
    if raw.dtype != object:
        return pd.Series(np.nan, index=raw.index)
    return pd.Series([float(v) if isinstance(v, int | float | np.number)
                      and not isinstance(v, bool | np.bool_) else np.nan for v in raw],
                     index=raw.index, dtype="float64")


def _one_decimal_separator(text: pd.Series, decimal: DecimalMark) -> tuple[pd.Series, pd.Series]:
    """Text with the thousands separators removed and ``decimal`` written as ``.``, and where a
    separator stands in no allowed place (only cells holding the other mark are matched)."""
    other = "," if decimal == "." else "."
    ambiguous = pd.Series(False, index=text.index)
    has_other = text.str.contains(other, regex=False).fillna(False).to_numpy(dtype=bool)
    if has_other.any():
        cells = text[has_other]
        grouped = cells.str.fullmatch(_GROUPED[decimal]).fillna(False).to_numpy(dtype=bool)
        text = text.copy()
        text[has_other] = cells.where(~grouped, cells.str.replace(other, "", regex=False))
        ambiguous[has_other] = ~grouped
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return text, ambiguous


def _parse_datetime_text(text: pd.Series) -> pd.Series:
    """Normalise the accepted written forms to ISO and parse; unparseable -> NaT."""
    t = text.str.strip().str.translate(_FULL_WIDTH)
    t = t.str.replace(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?", r"\1-\2-\3", regex=True)
    t = t.str.replace(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", regex=True)
    t = t.str.replace(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})", r"\3-\2-\1", regex=True)
    t = t.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
    t = t.str.replace(r"^(\d{4})-(\d)-", r"\1-0\2-", regex=True)
    t = t.str.replace(r"^(\d{4}-\d{2})-(\d)(?!\d)", r"\1-0\2", regex=True)
    t = t.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", r"\1T", regex=True)
    iso = t.str.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")
    out = pd.to_datetime(t.where(iso.fillna(False)), errors="coerce", format="ISO8601")
    return out


def _parse_datetimes(raw: pd.Series, rule: str) -> Parsed:
    blank = is_blank(raw)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
        return _in_range(Parsed.ok(values.astype("datetime64[us]")))
    values = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    serial = pd.to_numeric(raw.where(~blank), errors="coerce") if raw.dtype != object else (
        pd.to_numeric(raw.map(lambda v: v if isinstance(v, int | float) else
                              (v.strip() if isinstance(v, str) else None)), errors="coerce")
    )
    is_serial = serial.between(*_EXCEL_SERIAL_RANGE) & (serial.astype("str").str.len() != 8)
    is_serial &= ~raw.astype("str").str.fullmatch(r"\s*\d{8}\s*").fillna(False)
    if is_serial.any():
        values[is_serial] = (_EXCEL_EPOCH + pd.to_timedelta(serial[is_serial], unit="D")).astype(
            "datetime64[us]")
    objects = raw.map(lambda v: isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "year"))
    objects &= ~blank & ~is_serial
    if objects.any():
        values[objects] = pd.to_datetime(raw[objects], errors="coerce").astype("datetime64[us]")
    rest = ~blank & ~is_serial & ~objects
    if rest.any():
        values[rest] = _parse_datetime_text(raw[rest].astype("str")).astype("datetime64[us]")
    bad = values.isna() & ~blank
    return _in_range(Parsed(values, pd.Series(rule, index=raw.index[bad.to_numpy()])))


def _in_range(parsed: Parsed) -> Parsed:
    """Dates outside :data:`_DATE_RANGE` become errors too."""
    values = parsed.values
    out = (values < _DATE_RANGE[0]) | (values >= _DATE_RANGE[1])
    if not out.any():
        return parsed
    return Parsed(values, pd.concat([parsed.errors,
                                     pd.Series(_OUT_OF_RANGE, index=values.index[out.to_numpy()])]))


def parse_date(raw: pd.Series) -> Parsed:
    """Dates (time of day dropped) in the forms people use, including Excel serial numbers.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).

    Returns
    -------
    Parsed
        ``datetime64[us]`` at midnight; a cell in no supported form is an error naming the forms.
    """
    parsed = _parse_datetimes(raw, f"is not a date in a supported form ({_DATE_FORMS})")
    return Parsed(parsed.values.dt.normalize(), parsed.errors)


def parse_timestamp(raw: pd.Series) -> Parsed:
    """Timestamps (date with optional time of day), same written forms as :func:`parse_date`.

    Parameters
    ----------
    raw : pandas.Series
        The raw cells (text from CSV, typed values from XLSX, Parquet or a database).

    Returns
    -------
    Parsed
        ``datetime64[us]``; a cell in no supported form is an error naming the forms.
    """
    return _parse_datetimes(raw, f"is not a date/time in a supported form ({_DATE_FORMS}, "
                                 "optionally followed by HH:MM[:SS])")


def normalise_header(header: object) -> str:
    """Header key for matching: lower case, no spaces/underscores/dashes or invisible characters,
    full width folded.

    Parameters
    ----------
    header : object
        A header as read from a file.

    Returns
    -------
    str
    """
    text = str(header).translate(_FULL_WIDTH).strip().lower()
    # invisible characters too: a second BOM or a zero-width space must not hide a header
    return re.sub(r"[\s_\-\u200b-\u200f\u2060\ufeff]+", "", text)
