"""The per-cell and per-row rules of the data contract, applied to a file one block at a time.

Each cell is parsed by its column's kind (:mod:`customer_tiering.ingest.parsing`; numbers with the
decimal separator the column mapping declares) and checked against the column's range and whether
it may be empty; an XLSX formula cell the workbook stores no value for is reported as such, not
as empty (:mod:`customer_tiering.ingest.sheets`). Then come the rules across rows: exact
duplicate lines, a customer_id on two rows of the customers file, a transaction dated after
``as_of``, an interaction closed before it opened. Every problem names the file, the row (the line
a person sees in a spreadsheet: the header is line 1, so the first data row is line 2; for Parquet
and database tables the 1-based record number), the column as written in the file, the value and
the rule. A row with any problem is rejected as a whole and kept, with its reasons, for the rejects
file.

:class:`BlockValidator` keeps what the rules across rows need from earlier blocks, so a file
validated in blocks gets the same result as the whole file at once. :class:`LoadResult` (one file)
and :class:`Dataset` (the three tables) hold what validation produces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from customer_tiering.core.errors import Problem
from customer_tiering.ingest.contract import TableSpec
from customer_tiering.ingest.parsing import (
    DecimalMark,
    Parsed,
    is_blank,
    parse_category,
    parse_date,
    parse_id,
    parse_number,
    parse_text,
    parse_timestamp,
)
from customer_tiering.ingest.sheets import FormulaWithoutValue

__all__ = ["BlockValidator", "Dataset", "LoadResult", "empty_dtype", "empty_table", "range_rule"]


@dataclass
class LoadResult:
    """One validated input: the canonical frame, the rejected rows and every problem found.

    A load streamed to disk (:func:`customer_tiering.ingest.bulk_loading.load_to_directory`) keeps
    neither frame in memory: its ``frame`` and ``rejects`` are empty and ``n_loaded`` and
    ``n_rejected`` hold the counts; it lists at most ``MAX_LISTED_PROBLEMS`` problems, counting
    the others in ``unlisted_problems`` (every rejected row is in the rejects file).
    """

    table: str
    source: str
    frame: pd.DataFrame
    rejects: pd.DataFrame
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    n_loaded: int | None = None
    n_rejected: int | None = None
    unlisted_problems: int = 0

    @property
    def read(self) -> int:
        """Rows read: ``loaded + rejected``."""
        return self.loaded + self.rejected

    @property
    def loaded(self) -> int:
        """Rows that passed every rule."""
        return len(self.frame) if self.n_loaded is None else self.n_loaded

    @property
    def rejected(self) -> int:
        """Rows rejected (each with at least one problem)."""
        return len(self.rejects) if self.n_rejected is None else self.n_rejected

    @property
    def reject_share(self) -> float:
        """``rejected / read`` (0 for an empty file)."""
        return self.rejected / self.read if self.read else 0.0


@dataclass
class Dataset:
    """Validated transactions, customers and interactions, with the results of each file."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    interactions: pd.DataFrame
    results: list[LoadResult]


def empty_dtype(kind: str) -> str:
    """The pandas dtype of a column of ``kind`` (a contract ``ColumnKind``).

    Parameters
    ----------
    kind : str
        The column's kind.

    Returns
    -------
    str
        ``datetime64[us]`` for dates and timestamps, ``float64`` for numbers, else ``str``.
    """
    return {"date": "datetime64[us]", "timestamp": "datetime64[us]", "number": "float64",
            "score_0_10": "float64"}.get(kind, "str")


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A frame of the table's canonical columns and types, without rows.

    Parameters
    ----------
    spec : TableSpec
        The table.

    Returns
    -------
    pandas.DataFrame
        No rows; one column per column of ``spec``, typed by :func:`empty_dtype`.
    """
    return pd.DataFrame({c.name: pd.Series(dtype=empty_dtype(c.kind)) for c in spec.columns})


def range_rule(lower: float | None, upper: float | None) -> str:
    """The rule a number outside a column's inclusive bounds breaks, naming only the bounds set.

    Parameters
    ----------
    lower, upper : float or None
        The column's ``min_value`` and ``max_value``; at least one is set.

    Returns
    -------
    str
        ``"is outside 0..10"`` with both bounds, ``"must be >= 0"`` or ``"must be <= 10"`` with one.

    Raises
    ------
    ValueError
        When neither bound is set.
    """
    if lower is not None and upper is not None:
        return f"is outside {lower:g}..{upper:g}"
    if lower is not None:
        return f"must be >= {lower:g}"
    if upper is not None:
        return f"must be <= {upper:g}"
    raise ValueError("a range rule needs a lower or an upper bound")


_NO_STORED_VALUE = ("cell {cell} is a formula with no stored value (the workbook was written by a "
                    "program and never calculated); open it in Excel or LibreOffice and save it, "
                    "so that its values are stored")


def _parse_column(raw: pd.Series, spec: TableSpec, name: str, decimal: DecimalMark) -> Parsed:
    """Parse one column's raw cells by its kind; numbers are also checked against its range."""
    col = spec.column(name)
    if col.kind == "id":
        return parse_id(raw)
    if col.kind == "text":
        return parse_text(raw)
    if col.kind == "category":
        return parse_category(raw, name, col.categories)
    if col.kind == "date":
        return parse_date(raw)
    if col.kind == "timestamp":
        return parse_timestamp(raw)
    parsed = parse_number(raw, decimal)
    values, errors = parsed.values, parsed.errors
    lo, hi = col.min_value, col.max_value
    if lo is not None or hi is not None:
        out = values.notna() & (
            (values < (lo if lo is not None else -float("inf")))
            | (values > (hi if hi is not None else float("inf")))
        )
        errors = pd.concat([errors, pd.Series(range_rule(lo, hi),
                                              index=values.index[out.to_numpy()])])
    return Parsed(values, errors)


def _formulas_without_value(cells: pd.Series) -> np.ndarray:
    """Where a column's cells are XLSX formulas with no stored value (only object columns can
    hold them)."""
    if cells.dtype != object:
        return np.zeros(len(cells), dtype=bool)
    return np.fromiter((isinstance(v, FormulaWithoutValue) for v in cells), dtype=bool,
                       count=len(cells))


def _display(value: object) -> str | None:
    """A raw cell as a problem shows it; an empty cell shows as nothing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


def _label(header: str, canonical: str) -> str:
    """How a column is named in a problem: the header as written, and the canonical name."""
    return header if header == canonical else f"{header} ({canonical})"


class _DuplicateLines:
    """Exact duplicate lines across blocks: each distinct line's 128-bit hash and first row.

    Two independent 64-bit hashes of all of a line's cells; a line is a duplicate when both match
    an earlier line's (a false match is about 1 in 2**128). Memory is 24 bytes per distinct line
    (2.4 GB for a hundred million distinct lines), not the file itself.
    """

    _SECOND_KEY = "tiering-dup-key2"  # 16 characters, as pandas requires

    def __init__(self) -> None:
        self.h1 = np.empty(0, dtype=np.uint64)  # sorted
        self.h2 = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)

    def earlier_rows(self, raw: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """For each line of the block, the row of an identical earlier line, or -1."""
        n = len(raw)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        typed = _typed_cells(raw)
        h1 = pd.util.hash_pandas_object(typed, index=False).to_numpy(dtype=np.uint64)
        h2 = pd.util.hash_pandas_object(typed, index=False, hash_key=self._SECOND_KEY).to_numpy(
            dtype=np.uint64)
        position = np.arange(n)
        order = np.lexsort((position, h2, h1))
        s1, s2 = h1[order], h2[order]
        starts = np.r_[True, (s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1])]
        group_first = order[np.maximum.accumulate(np.where(starts, position, 0))]
        first_in_block = np.empty(n, dtype=np.int64)
        first_in_block[order] = group_first
        earlier = np.where(first_in_block != position, rows[first_in_block], -1)
        if self.h1.size:
            at = np.minimum(np.searchsorted(self.h1, h1), self.h1.size - 1)
            seen = (self.h1[at] == h1) & (self.h2[at] == h2)
            earlier = np.where(seen, self.rows[at], earlier)
        else:
            seen = np.zeros(n, dtype=bool)
        new = np.flatnonzero((first_in_block == position) & ~seen)
        new = new[np.argsort(h1[new], kind="stable")]
        at = np.searchsorted(self.h1, h1[new])
        # one array at a time, so the peak is the index plus one array, not twice the index
        self.h1 = np.insert(self.h1, at, h1[new])
        self.h2 = np.insert(self.h2, at, h2[new])
        self.rows = np.insert(self.rows, at, rows[new])
        return earlier


def _typed_cells(raw: pd.DataFrame) -> pd.DataFrame:
    """The cells to hash: a column of mixed Python types (XLSX, database) gets each cell's type
    beside its text, so that the number 1001 and the text "1001" stay different lines."""
    mixed = [c for c in raw.columns if raw[c].dtype == object
             and pd.api.types.infer_dtype(raw[c], skipna=True).startswith("mixed")]
    if not mixed:
        return raw
    typed = raw.copy()
    for c in mixed:
        typed[c] = [f"{type(v).__name__}:{v}" for v in raw[c]]
    return typed


class BlockValidator:
    """Validates one file block by block; the rules across blocks keep their state here.

    Parameters
    ----------
    spec : TableSpec
        The table the file holds.
    found : dict of str to str
        ``{canonical column: header in the file}``
        (:func:`customer_tiering.ingest.headers.map_headers`); the required columns are among them.
    name : str
        The file's name, as problems show it.
    as_of : datetime.date or None
        When given, transactions dated after it are rejected.
    decimal : {".", ","}
        The decimal separator of numbers written as text (the column mapping's ``decimal``).
    """

    def __init__(self, spec: TableSpec, found: dict[str, str], name: str,
                 as_of: date | None, decimal: DecimalMark = ".") -> None:
        self.spec, self.found, self.name, self.as_of = spec, found, name, as_of
        self.decimal = decimal
        self.duplicates = _DuplicateLines()
        self.first_row_of_id: dict[str, int] = {}  # customers: each id's first row

    def validate(self, raw: pd.DataFrame, earlier: np.ndarray | None = None) -> LoadResult:
        """Validate the next block of the file.

        Parameters
        ----------
        raw : pandas.DataFrame
            The block's raw cells, with the file's headers, indexed by the rows' numbers as a
            person sees them (:mod:`customer_tiering.ingest.raw_reading`).
        earlier : numpy.ndarray, optional
            For each row, the row of an identical earlier line of the file or -1, when the
            caller found the exact duplicates over the whole file itself (the engine path,
            :mod:`customer_tiering.ingest.engine_loading`, which validates only some rows here);
            by default they are found here, against every earlier block.

        Returns
        -------
        LoadResult
            The block's canonical frame of accepted rows, its rejected rows (raw cells, ``row``
            and ``reasons``) and its problems, ordered by row.
        """
        spec, found, name = self.spec, self.found, self.name
        rows = pd.Index(raw.index, dtype="int64")
        raw = raw.reset_index(drop=True)
        out = pd.DataFrame(index=raw.index)
        reasons: dict[int, list[str]] = {}
        problems: list[Problem] = []

        def reject(index: Iterable[int], column: str | None, rule: str | pd.Series,
                   values: pd.Series | None = None) -> None:
            for i in index:
                r = rule if isinstance(rule, str) else str(rule.loc[i])
                v = None if values is None else _display(values.loc[i])
                problems.append(Problem(name, int(rows[i]), column, v, r))
                reasons.setdefault(int(i), []).append(f"{column}: {r}" if column else r)

        for col in spec.columns:
            header = found.get(col.name)
            if header is None:
                out[col.name] = pd.Series(None, index=raw.index, dtype=empty_dtype(col.kind))
                continue
            cells = raw[header]
            label = _label(header, col.name)
            formula = _formulas_without_value(cells)
            if formula.any():
                at = raw.index[formula]
                reject(at, label, pd.Series([_NO_STORED_VALUE.format(cell=cells[i].cell)
                                             for i in at], index=at), cells)
                cells = cells.where(~formula, None)
            parsed = _parse_column(cells, spec, col.name, self.decimal)
            out[col.name] = parsed.values
            bad = parsed.errors
            reject(bad.index, label, bad, cells)
            if not col.nullable:
                empty = is_blank(cells).to_numpy() & ~formula
                reject(raw.index[empty], label, "is empty but required")

        self._table_rules(raw, out, rows, reject, earlier)
        bad_rows = sorted(reasons)
        if bad_rows:
            keep = ~raw.index.isin(bad_rows)
            frame = out.loc[keep].reset_index(drop=True)
        else:
            frame = out
        rejects = raw.loc[bad_rows].copy()
        rejects.insert(0, "row", rows[bad_rows])
        rejects["reasons"] = pd.Series(["; ".join(reasons[i]) for i in bad_rows],
                                       index=rejects.index, dtype="str")
        problems.sort(key=lambda p: (p.row or 0))
        return LoadResult(spec.name, name, frame, rejects.reset_index(drop=True), problems)

    def _table_rules(self, raw: pd.DataFrame, out: pd.DataFrame, rows: pd.Index,
                     reject: Callable[..., None], earlier: np.ndarray | None = None) -> None:
        """Row rules beyond single cells: duplicates, dates after as_of, closed before opened."""
        spec, found, as_of = self.spec, self.found, self.as_of
        if earlier is None:
            earlier = self.duplicates.earlier_rows(raw, rows.to_numpy())
        repeated = np.flatnonzero(earlier >= 0)
        reject(raw.index[repeated], None,
               pd.Series([f"exact duplicate of row {earlier[j]}" for j in repeated],
                         index=raw.index[repeated]))
        if spec.name == "customers" and "customer_id" in found:
            self._duplicate_ids(raw, out, rows, earlier < 0, reject)
        if spec.name == "transactions" and as_of is not None:
            late = out["order_date"] > pd.Timestamp(as_of)
            label = _label(found["order_date"], "order_date")
            reject(raw.index[late.fillna(False).to_numpy()], label,
                   f"is after as_of {as_of.isoformat()}", raw[found["order_date"]])
        if spec.name == "interactions" and "closed_at" in found:
            backwards = (out["closed_at"] < out["opened_at"]).fillna(False)
            label = _label(found["closed_at"], "closed_at")
            reject(raw.index[backwards.to_numpy()], label, "is before opened_at",
                   raw[found["closed_at"]])

    def _duplicate_ids(self, raw: pd.DataFrame, out: pd.DataFrame, rows: pd.Index,
                       not_a_copy: np.ndarray, reject: Callable[..., None]) -> None:
        """A customer_id seen on an earlier row (of any block) that is not an exact copy."""
        ids = out["customer_id"]
        present = ids.notna().to_numpy()
        first_here = ids[present].reset_index().groupby("customer_id")["index"].min()
        row_numbers = rows.to_numpy()
        known = self.first_row_of_id
        first_row = {str(v): known.get(str(v), int(row_numbers[i])) for v, i in first_here.items()}
        firsts = ids.map(first_row).to_numpy(dtype=float, na_value=np.nan)
        again = np.flatnonzero(present & not_a_copy & (firsts != row_numbers))
        found_id = self.found["customer_id"]
        where = raw.index[again]
        reasons = [f"duplicate customer_id, first at row {int(firsts[i])}" for i in again]
        reject(where, _label(found_id, "customer_id"), pd.Series(reasons, index=where),
               raw[found_id])
        for v, r in first_row.items():
            known.setdefault(v, r)
