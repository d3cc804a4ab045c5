"""Read input files or tables into validated canonical frames; every rejected row kept with reasons.

Sources: CSV (UTF-8 with or without BOM, GBK/GB18030; ``,`` ``;`` or tab), Parquet, XLSX (first
sheet), and a database table by SQLAlchemy URL written ``URL#table`` (``sqlite:///crm.db#orders``).

Rules (see ``docs/data-contract.md``):

* headers are matched to the contract's canonical names, the built-in Chinese and English aliases
  and a user YAML column mapping; a missing required column rejects the whole file;
* each cell is parsed by its column's kind; every problem of the file is collected, each naming the
  file, the row (the line a person sees in a spreadsheet: the header is line 1, so the first data
  row is line 2; for Parquet and database tables the 1-based record number), the column as written
  in the file, the value and the rule;
* a row with any problem is rejected as a whole and lands in the rejects file with its reasons;
  ``read = loaded + rejected`` always holds;
* exact duplicate lines and (with ``as_of``) transactions dated after ``as_of`` are rejected with
  their reason; transactions of customers missing from the customers file are kept and reported as
  warnings (their customer is derived), because dropping revenue silently is the worse error;
* when more than ``max_reject_share`` of a file's rows are rejected, :class:`TooManyRejectsError`
  is raised and nothing is written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from customer_tiering.core.errors import ConfigError, InputError, Problem, TooManyRejectsError
from customer_tiering.ingest.contract import CUSTOMERS, INPUT_TABLES, INTERACTIONS, TRANSACTIONS, TableSpec
from customer_tiering.ingest.parsing import (
    Parsed,
    is_blank,
    normalise_header,
    parse_category,
    parse_date,
    parse_id,
    parse_number,
    parse_text,
    parse_timestamp,
)
from customer_tiering.ingest.raw_reading import CHUNK_ROWS, open_source

__all__ = [
    "ColumnMapping",
    "Dataset",
    "LoadResult",
    "TableBlocks",
    "check_reject_shares",
    "derive_customers",
    "detect_table",
    "empty_table",
    "iter_table",
    "load_dataset",
    "read_table",
    "rejects_path",
    "replace_directory",
    "report_unknown_customers",
    "unknown_customers",
    "validate_sources",
    "warn_unknown_customers",
    "write_dataset",
    "write_rejects",
]



class ColumnMapping(BaseModel):
    """A user's extra header spellings, per table: ``{table: {header in file: canonical}}``."""

    model_config = ConfigDict(extra="forbid")

    version: int
    transactions: dict[str, str] = {}
    customers: dict[str, str] = {}
    interactions: dict[str, str] = {}

    @field_validator("transactions", "customers", "interactions")
    @classmethod
    def _targets_are_canonical(cls, value: dict[str, str], info: object) -> dict[str, str]:
        table = INPUT_TABLES[getattr(info, "field_name", "")]
        for header, target in value.items():
            if target not in table.column_names:
                raise ValueError(
                    f"{header!r} maps to {target!r}, which is not a column of {table.name} "
                    f"(columns: {', '.join(table.column_names)})"
                )
        return value

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> ColumnMapping:
        """Load and validate a mapping file; errors name the file and the field."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text) or {}
            return cls.model_validate(data)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise ConfigError(str(path), "(file)", f"is not valid YAML: {exc}",
                              None if line is None else line + 1) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field_path = ".".join(str(p) for p in err["loc"])
            raise ConfigError(str(path), field_path, err["msg"]) from None


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
        return self.loaded + self.rejected

    @property
    def loaded(self) -> int:
        return len(self.frame) if self.n_loaded is None else self.n_loaded

    @property
    def rejected(self) -> int:
        return len(self.rejects) if self.n_rejected is None else self.n_rejected

    @property
    def reject_share(self) -> float:
        return self.rejected / self.read if self.read else 0.0


@dataclass
class Dataset:
    """Validated transactions, customers and interactions, with the results of each file."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    interactions: pd.DataFrame
    results: list[LoadResult]


# ------------------------------------------------------------------------------------------------
# Headers
# ------------------------------------------------------------------------------------------------
def _header_lookup(spec: TableSpec, mapping: ColumnMapping | None) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for name in (col.name, *col.aliases):
            lookup.setdefault(normalise_header(name), col.name)
    if mapping is not None:
        for header, target in getattr(mapping, spec.name).items():
            lookup[normalise_header(header)] = target
    return lookup


def _map_headers(
    headers: Iterable[object], spec: TableSpec, mapping: ColumnMapping | None
) -> dict[str, str]:
    """``{canonical: header in file}`` for the headers that map to a column of ``spec``."""
    lookup = _header_lookup(spec, mapping)
    found: dict[str, str] = {}
    for header in headers:
        canonical = lookup.get(normalise_header(header))
        if canonical is not None and canonical not in found:
            found[canonical] = str(header)
    return found


def detect_table(headers: Iterable[object], mapping: ColumnMapping | None = None) -> TableSpec:
    """Guess which input table a file holds from its headers (transactions, interactions, else
    customers)."""
    headers = list(headers)
    for spec in (TRANSACTIONS, INTERACTIONS):
        if set(spec.required_columns) <= set(_map_headers(headers, spec, mapping)):
            return spec
    return CUSTOMERS


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------
def _parse_column(raw: pd.Series, spec: TableSpec, name: str) -> Parsed:
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
    parsed = parse_number(raw)
    values, errors = parsed.values, parsed.errors
    lo, hi = col.min_value, col.max_value
    if lo is not None or hi is not None:
        out = values.notna() & (
            (values < (lo if lo is not None else -float("inf")))
            | (values > (hi if hi is not None else float("inf")))
        )
        errors = pd.concat([errors, pd.Series(f"is outside {lo:g}..{hi:g}",
                                              index=values.index[out.to_numpy()])])
    return Parsed(values, errors)


def _display(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


class _DuplicateLines:
    """Exact duplicate lines across blocks: each distinct line's 128-bit hash and first row.

    Two independent 64-bit hashes of all of a line's cells; a line is a duplicate when both match
    an earlier line's (a false match is about 1 in 2**128). 24 bytes per distinct line, so a
    100M-line file needs about 2.4 GB here, against the whole file in memory before.
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


class _BlockValidator:
    """Validates one file block by block; rules across blocks keep their state here."""

    def __init__(self, spec: TableSpec, found: dict[str, str], name: str,
                 as_of: date | None) -> None:
        self.spec, self.found, self.name, self.as_of = spec, found, name, as_of
        self.duplicates = _DuplicateLines()
        self.first_row_of_id: dict[str, int] = {}  # customers: each id's first row

    def validate(self, raw: pd.DataFrame, first_row: int) -> LoadResult:
        """Validate a block whose first line is row ``first_row``; rows are numbered on."""
        spec, found, name = self.spec, self.found, self.name
        raw = raw.reset_index(drop=True)
        rows = pd.RangeIndex(len(raw)) + first_row
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
                out[col.name] = pd.Series(None, index=raw.index, dtype=_empty_dtype(col.kind))
                continue
            cells = raw[header]
            parsed = _parse_column(cells, spec, col.name)
            out[col.name] = parsed.values
            label = _label(header, col.name)
            bad = parsed.errors
            reject(bad.index, label, bad, cells)
            if not col.nullable:
                empty = is_blank(cells)
                reject(raw.index[empty.to_numpy()], label, "is empty but required")

        self._table_rules(raw, out, rows, reject)
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
                     reject: Callable[..., None]) -> None:
        """Row rules beyond single cells: duplicates, dates after as_of, closed before opened."""
        spec, found, as_of = self.spec, self.found, self.as_of
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


@dataclass
class TableBlocks:
    """An input opened for validation: its table, name and size, and its validated blocks."""

    spec: TableSpec
    source: str
    headers: list[str]
    total_rows: int | None
    blocks: Iterator[LoadResult]

    def empty_rejects(self) -> pd.DataFrame:
        """The rejects frame of a file without rejected rows (its columns only)."""
        return pd.DataFrame(columns=["row", *self.headers, "reasons"])

    def __iter__(self) -> Iterator[LoadResult]:
        return self.blocks


def iter_table(
    source: str | os.PathLike[str],
    spec: TableSpec | None = None,
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> TableBlocks:
    """Open and validate one input a block of ``chunk_rows`` rows at a time.

    Each block comes back as a :class:`LoadResult` of its own rows (rows numbered as in the
    file); the rules across rows (exact duplicate lines, a customer_id on two rows) look at every
    earlier block too, so the blocks together equal :func:`read_table` of the whole file.

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column (nothing of it is usable).
    """
    opened = open_source(source, chunk_rows)
    spec = spec or detect_table(opened.headers, mapping)
    found = _map_headers(opened.headers, spec, mapping)
    missing = [c for c in spec.required_columns if c not in found]
    if missing:
        opened.close()
        raise InputError(
            [Problem(opened.name, None, c, None,
                     f"required column is missing (accepted headers: "
                     f"{', '.join((c, *spec.column(c).aliases))})") for c in missing],
            summary=f"{opened.name}: not a usable {spec.name} file",
        )
    validator = _BlockValidator(spec, found, opened.name, as_of)

    def blocks() -> Iterator[LoadResult]:
        next_row = opened.first_row
        for raw in opened.chunks:
            if len(raw):  # a header-only CSV comes as one empty block
                yield validator.validate(raw, next_row)
                next_row += len(raw)

    return TableBlocks(spec, opened.name, opened.headers, opened.total_rows, blocks())


def read_table(
    source: str | os.PathLike[str],
    spec: TableSpec | None = None,
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> LoadResult:
    """Read and validate one input, held in memory (see :func:`iter_table` for the rules).

    Parameters
    ----------
    source : a CSV, Parquet or XLSX path, or ``URL#table``.
    spec : the table it holds (default: guessed from the headers by :func:`detect_table`).
    mapping : extra header spellings.
    as_of : when given, transactions dated after it are rejected.
    chunk_rows : rows validated at a time.

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column (nothing of it is usable).
    """
    opened = iter_table(source, spec, mapping=mapping, as_of=as_of, chunk_rows=chunk_rows)
    parts = list(opened)
    if not parts:
        return LoadResult(opened.spec.name, opened.source, empty_table(opened.spec),
                          opened.empty_rejects(), [])
    if len(parts) == 1:
        return parts[0]
    return LoadResult(
        opened.spec.name, opened.source,
        pd.concat([p.frame for p in parts], ignore_index=True),
        pd.concat([p.rejects for p in parts], ignore_index=True),
        [problem for p in parts for problem in p.problems])


def _label(header: str, canonical: str) -> str:
    """How a column is named in a problem: the header as written, and the canonical name."""
    return header if header == canonical else f"{header} ({canonical})"


def _empty_dtype(kind: str) -> str:
    return {"date": "datetime64[us]", "timestamp": "datetime64[us]", "number": "float64",
            "score_0_10": "float64"}.get(kind, "str")


def derive_customers(transactions: pd.DataFrame) -> pd.DataFrame:
    """A customers frame with one row per customer seen in transactions (other columns empty)."""
    ids = pd.Series(sorted(transactions["customer_id"].dropna().unique()), dtype="str")
    frame = pd.DataFrame({"customer_id": ids})
    for col in CUSTOMERS.columns[1:]:
        frame[col.name] = pd.Series(None, index=frame.index, dtype=_empty_dtype(col.kind))
    return frame


def load_dataset(
    transactions: str | os.PathLike[str],
    customers: str | os.PathLike[str] | None = None,
    interactions: str | os.PathLike[str] | None = None,
    *,
    as_of: date | None = None,
    max_reject_share: float = 0.01,
    mapping: ColumnMapping | None = None,
) -> Dataset:
    """Read and validate all inputs; stop when any file rejects more than ``max_reject_share``.

    Transactions of customers missing from the customers file are kept; each such customer is
    reported once as a warning and added to the customers frame with empty master data.

    Raises
    ------
    TooManyRejectsError
        Naming every problem, when a file's reject share is above the limit.
    """
    results = [read_table(transactions, TRANSACTIONS, mapping=mapping, as_of=as_of)]
    if customers is not None:
        results.append(read_table(customers, CUSTOMERS, mapping=mapping))
    if interactions is not None:
        results.append(read_table(interactions, INTERACTIONS, mapping=mapping))
    check_reject_shares(results, max_reject_share)
    tx = results[0].frame
    if customers is None:
        cust = derive_customers(tx)
    else:
        cust = results[1].frame
        unknown = unknown_customers(tx["customer_id"].unique(), cust["customer_id"])
        warn_unknown_customers(results[0], unknown)
        if len(unknown):
            cust = pd.concat([cust, derive_customers(pd.DataFrame({"customer_id": unknown}))],
                             ignore_index=True)
    inter = results[-1].frame if interactions is not None else empty_table(INTERACTIONS)
    return Dataset(tx, cust, inter, results)


def check_reject_shares(results: Iterable[LoadResult], max_reject_share: float) -> None:
    """Raise :class:`TooManyRejectsError`, naming every problem, when a file rejects too much."""
    over = [r for r in results if r.reject_share > max_reject_share]
    if over:
        raise TooManyRejectsError(
            [p for r in over for p in r.problems],
            summary="; ".join(
                f"{r.source}: {r.rejected} of {r.read} rows rejected ({r.reject_share:.1%}), "
                f"more than the allowed {max_reject_share:.1%}; nothing was written"
                for r in over
            ),
        )


def unknown_customers(transaction_ids: Iterable[object], known_ids: Iterable[object]
                      ) -> list[str]:
    """Customer ids with transactions but no row in the customers file, sorted."""
    def texts(values: Iterable[object]) -> set[str]:
        return {str(v) for v in pd.Series(list(values), dtype=object).dropna()}

    return sorted(texts(transaction_ids) - texts(known_ids))


def warn_unknown_customers(result: LoadResult, unknown: Iterable[str]) -> None:
    """One warning per unknown customer on the transactions result: kept, customer derived."""
    for cid in unknown:
        result.warnings.append(Problem(
            result.source, None, "customer_id", cid,
            "has transactions but is not in the customers file; kept, customer derived"))


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """A frame of the table's canonical columns and types, without rows."""
    return pd.DataFrame({c.name: pd.Series(dtype=_empty_dtype(c.kind)) for c in spec.columns})


def write_dataset(dataset: Dataset, out_dir: str | os.PathLike[str]) -> Path:
    """Write the clean tables as Parquet and each file's rejects as CSV, all or nothing.

    Everything is written into a sibling temporary folder that then replaces ``out_dir`` in one
    rename, so a reader never sees a half-written data set.
    """

    def fill(tmp: Path) -> None:
        for table in ("transactions", "customers", "interactions"):
            getattr(dataset, table).to_parquet(tmp / f"{table}.parquet", index=False)
        for result in dataset.results:
            result.rejects.to_csv(tmp / "rejects" / f"{result.table}_rejects.csv", index=False,
                                  encoding="utf-8-sig")

    return replace_directory(out_dir, fill)


def replace_directory(out_dir: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """Let ``fill`` write a sibling temporary folder (with ``rejects/``), then swap it in.

    If ``fill`` raises, ``out_dir`` is left as it was and the temporary folder is removed.
    """
    target = Path(out_dir)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "rejects").mkdir(parents=True)
    try:
        fill(tmp)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def validate_sources(
    sources: Iterable[str | os.PathLike[str]],
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
) -> list[LoadResult]:
    """Validate several inputs, guessing each one's table from its headers.

    When both a transactions and a customers file are given, transactions of customers missing
    from the customers file are reported as warnings (they are kept when loading).
    """
    results = [read_table(s, mapping=mapping, as_of=as_of) for s in sources]
    report_unknown_customers(results)
    return results


def report_unknown_customers(results: list[LoadResult],
                             customer_ids: list[set[str]] | None = None) -> None:
    """Add a warning to each transactions result for customers absent from the customers files.

    ``customer_ids`` holds each result's customer ids when its frame was not kept (a streamed
    validation); by default they are read from the frames.
    """
    if customer_ids is None:
        customer_ids = [set(r.frame["customer_id"].dropna().unique()) for r in results]
    customers = [ids for r, ids in zip(results, customer_ids, strict=True)
                 if r.table == "customers"]
    if customers:
        known = set().union(*customers)
        for r, ids in zip(results, customer_ids, strict=True):
            if r.table == "transactions":
                for cid in unknown_customers(ids, known):
                    r.warnings.append(Problem(r.source, None, "customer_id", cid,
                                              "has transactions but is not in the customers file"))


def rejects_path(out_dir: Path, source: str) -> Path:
    """Where a validation writes a source's rejected rows: ``<file stem>_rejects.csv``."""
    return out_dir / f"{Path(source.split('#')[-1]).stem}_rejects.csv"


def write_rejects(results: Iterable[LoadResult], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write each input's rejected rows (raw values, row, reasons) as UTF-8-BOM CSV files."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        path = rejects_path(target, r.source)
        tmp = path.with_name(f".{path.name}.tmp")
        r.rejects.to_csv(tmp, index=False, encoding="utf-8-sig")
        os.replace(tmp, path)
        written.append(path)
    return written
