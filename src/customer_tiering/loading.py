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

import csv
import io
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from customer_tiering.errors import ConfigError, InputError, Problem, TooManyRejectsError
from customer_tiering.parsing import (
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
from customer_tiering.schemas import CUSTOMERS, INPUT_TABLES, INTERACTIONS, TRANSACTIONS, TableSpec

__all__ = [
    "ColumnMapping",
    "Dataset",
    "LoadResult",
    "derive_customers",
    "detect_table",
    "load_dataset",
    "read_raw",
    "read_table",
    "report_unknown_customers",
    "validate_sources",
    "write_dataset",
    "write_rejects",
]

_ENCODINGS = ("utf-8-sig", "gb18030")
_DELIMITERS = ",;\t"


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
    """One validated input: the canonical frame, the rejected rows and every problem found."""

    table: str
    source: str
    frame: pd.DataFrame
    rejects: pd.DataFrame
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def read(self) -> int:
        return len(self.frame) + len(self.rejects)

    @property
    def loaded(self) -> int:
        return len(self.frame)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

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
# Reading raw cells
# ------------------------------------------------------------------------------------------------
def _decode(data: bytes, name: str) -> str:
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError([Problem(name, None, None, None,
                              "is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 CSV")])


def _read_csv(path: Path) -> pd.DataFrame:
    text = _decode(path.read_bytes(), str(path))
    sample = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.splitlines()[0].count(d) if sample else 0 for d in _DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
    try:
        return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                           skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError([Problem(str(path), None, None, None, f"is not a readable CSV: {exc}")]
                         ) from None


def read_raw(source: str | os.PathLike[str]) -> tuple[pd.DataFrame, str, int]:
    """Read a source as it is: ``(cells, display name, row number of the first data row)``."""
    text = os.fspath(source)
    if "://" in text:
        url, _, table = text.partition("#")
        if not table:
            raise InputError([Problem(text, None, None, None,
                                      "a database source is written URL#table")])
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                frame = pd.read_sql_table(table, conn)
        except (sa.exc.SQLAlchemyError, ValueError) as exc:
            raise InputError([Problem(f"{url}#{table}", None, None, None,
                                      f"cannot be read: {exc}")]) from None
        finally:
            engine.dispose()
        return frame, f"{sa.make_url(url).render_as_string(hide_password=True)}#{table}", 1
    path = Path(text)
    if not path.exists():
        raise InputError([Problem(text, None, None, None, "does not exist")])
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path), text, 1
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=object, engine="openpyxl"), text, 2
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path), text, 2
    raise InputError([Problem(text, None, None, None,
                              "has an unknown type; use .csv, .parquet, .xlsx or URL#table")])


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


def read_table(
    source: str | os.PathLike[str],
    spec: TableSpec | None = None,
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
) -> LoadResult:
    """Read and validate one input.

    Parameters
    ----------
    source : a CSV, Parquet or XLSX path, or ``URL#table``.
    spec : the table it holds (default: guessed from the headers by :func:`detect_table`).
    mapping : extra header spellings.
    as_of : when given, transactions dated after it are rejected.

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column (nothing of it is usable).
    """
    raw, name, first_row = read_raw(source)
    spec = spec or detect_table(raw.columns, mapping)
    found = _map_headers(raw.columns, spec, mapping)
    missing = [c for c in spec.required_columns if c not in found]
    if missing:
        raise InputError(
            [Problem(name, None, c, None,
                     f"required column is missing (accepted headers: "
                     f"{', '.join((c, *spec.column(c).aliases))})") for c in missing],
            summary=f"{name}: not a usable {spec.name} file",
        )
    n = len(raw)
    raw = raw.reset_index(drop=True)
    rows = pd.RangeIndex(n) + first_row
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

    warnings: list[Problem] = []
    _table_rules(spec, raw, out, found, rows, as_of, reject)
    bad_rows = sorted(reasons)
    keep = ~raw.index.isin(bad_rows)
    rejects = raw.loc[bad_rows].copy()
    rejects.insert(0, "row", rows[bad_rows])
    rejects["reasons"] = ["; ".join(reasons[i]) for i in bad_rows]
    frame = out.loc[keep].reset_index(drop=True)
    problems.sort(key=lambda p: (p.row or 0))
    return LoadResult(spec.name, name, frame, rejects.reset_index(drop=True), problems, warnings)


def _label(header: str, canonical: str) -> str:
    """How a column is named in a problem: the header as written, and the canonical name."""
    return header if header == canonical else f"{header} ({canonical})"


def _empty_dtype(kind: str) -> str:
    return {"date": "datetime64[us]", "timestamp": "datetime64[us]", "number": "float64",
            "score_0_10": "float64"}.get(kind, "str")


def _table_rules(
    spec: TableSpec,
    raw: pd.DataFrame,
    out: pd.DataFrame,
    found: dict[str, str],
    rows: pd.Index,
    as_of: date | None,
    reject: Callable[..., None],
) -> None:
    """Row rules beyond single cells: duplicates, dates after as_of, closed before opened."""
    dup = raw.duplicated(keep=False)
    if dup.any():
        first_of = raw[dup].reset_index().groupby(list(raw.columns), dropna=False)["index"].transform(
            "min")
        first_of.index = raw.index[dup.to_numpy()]
        later = first_of[first_of != first_of.index]
        reject(later.index, None,
               pd.Series([f"exact duplicate of row {rows[j]}" for j in later], index=later.index))
    if spec.name == "customers" and "customer_id" in found:
        ids = out["customer_id"]
        again = ids.notna() & ids.duplicated(keep="first") & ~raw.duplicated(keep="first")
        first_row = ids[ids.notna()].reset_index().groupby("customer_id")["index"].min()
        label = _label(found["customer_id"], "customer_id")
        reject(raw.index[again.to_numpy()], label,
               pd.Series([f"duplicate customer_id, first at row {rows[first_row[v]]}"
                          for v in ids[again]], index=raw.index[again.to_numpy()]),
               raw[found["customer_id"]])
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
    tx = results[0].frame
    if customers is None:
        cust = derive_customers(tx)
    else:
        cust = results[1].frame
        known = set(cust["customer_id"].dropna())
        unknown = tx.loc[~tx["customer_id"].isin(known), "customer_id"].dropna().unique()
        for cid in sorted(unknown):
            results[0].warnings.append(Problem(
                results[0].source, None, "customer_id", str(cid),
                "has transactions but is not in the customers file; kept, customer derived"))
        if len(unknown):
            cust = pd.concat([cust, derive_customers(pd.DataFrame({"customer_id": unknown}))],
                             ignore_index=True)
    inter = results[-1].frame if interactions is not None else _empty_table(INTERACTIONS)
    return Dataset(tx, cust, inter, results)


def _empty_table(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=_empty_dtype(c.kind)) for c in spec.columns})


def write_dataset(dataset: Dataset, out_dir: str | os.PathLike[str]) -> Path:
    """Write the clean tables as Parquet and each file's rejects as CSV, all or nothing.

    Everything is written into a sibling temporary folder that then replaces ``out_dir`` in one
    rename, so a reader never sees a half-written data set.
    """
    target = Path(out_dir)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "rejects").mkdir(parents=True)
    try:
        for table in ("transactions", "customers", "interactions"):
            getattr(dataset, table).to_parquet(tmp / f"{table}.parquet", index=False)
        for result in dataset.results:
            result.rejects.to_csv(tmp / "rejects" / f"{result.table}_rejects.csv", index=False,
                                  encoding="utf-8-sig")
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


def report_unknown_customers(results: list[LoadResult]) -> None:
    """Add a warning to each transactions result for customers absent from the customers files."""
    customers = [r for r in results if r.table == "customers"]
    if customers:
        known = set().union(*(set(r.frame["customer_id"].dropna()) for r in customers))
        for r in results:
            if r.table == "transactions":
                unknown = r.frame.loc[~r.frame["customer_id"].isin(known), "customer_id"]
                for cid in sorted(unknown.dropna().unique()):
                    r.warnings.append(Problem(r.source, None, "customer_id", str(cid),
                                              "has transactions but is not in the customers file"))


def write_rejects(results: Iterable[LoadResult], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write each input's rejected rows (raw values, row, reasons) as UTF-8-BOM CSV files."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        path = target / f"{Path(r.source.split('#')[-1]).stem}_rejects.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        r.rejects.to_csv(tmp, index=False, encoding="utf-8-sig")
        os.replace(tmp, path)
        written.append(path)
    return written
