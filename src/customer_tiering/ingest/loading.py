"""Read input files or tables into validated canonical frames; every rejected row kept with reasons.

Sources: CSV (UTF-8 with or without BOM, GBK/GB18030; ``,`` ``;`` or tab), Parquet, XLSX (first
sheet), and a database table by SQLAlchemy URL written ``URL#table`` (``sqlite:///crm.db#orders``).

Rules (see ``docs/data-contract.md``):

* headers are matched to the contract's canonical names, the built-in Chinese and English aliases
  and a user YAML column mapping (:mod:`~customer_tiering.ingest.headers`); a missing required
  column, or a file whose table cannot be told from its headers, rejects the whole file, and so
  does a file without data rows (a header-only file must not replace a data set);
* each cell is parsed by its column's kind and the rules across rows are applied block by block
  (:mod:`~customer_tiering.ingest.validation`); every problem of the file is collected, each
  naming the file, the row, the column as written in the file, the value and the rule;
* a row with any problem is rejected as a whole and lands in the rejects file with its reasons;
  ``read = loaded + rejected`` always holds;
* exact duplicate lines and (with ``as_of``) transactions dated after ``as_of`` are rejected with
  their reason; transactions of customers missing from the customers file are kept and reported as
  warnings (their customer is derived), because dropping revenue silently is the worse error;
* when more than ``max_reject_share`` of a file's rows are rejected, :class:`TooManyRejectsError`
  is raised and nothing is written.

This module opens an input and puts its validated blocks together, and loads or validates a whole
data set; the rules across files are :mod:`~customer_tiering.ingest.across_files` and the files
written :mod:`~customer_tiering.ingest.writing` (their functions are importable from here too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import pandas as pd

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.across_files import (
    check_reject_shares,
    check_transactions_loaded,
    derive_customers,
    report_unknown_customers,
    unknown_customers,
    warn_unknown_customers,
)
from customer_tiering.ingest.contract import CUSTOMERS, INTERACTIONS, TRANSACTIONS, TableSpec
from customer_tiering.ingest.headers import (
    ColumnMapping,
    detect_table,
    headers_by_column,
    what_tables_need,
)
from customer_tiering.ingest.raw_reading import CHUNK_ROWS, open_source
from customer_tiering.ingest.validation import BlockValidator, Dataset, LoadResult, empty_table
from customer_tiering.ingest.writing import (
    rejects_path,
    replace_directory,
    write_dataset,
    write_rejects,
)

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
    "table_columns",
    "unknown_customers",
    "validate_sources",
    "warn_unknown_customers",
    "write_dataset",
    "write_rejects",
]


@dataclass
class TableBlocks:
    """An input opened for validation: its table, name and size, and its validated blocks."""

    spec: TableSpec
    source: str
    headers: list[str]
    total_rows: int | None
    blocks: Iterator[LoadResult]

    def empty_rejects(self) -> pd.DataFrame:
        """The rejects frame of a file without rejected rows.

        Returns
        -------
        pandas.DataFrame
            No rows; the columns ``row``, the file's headers and ``reasons``.
        """
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

    Parameters
    ----------
    source : str or os.PathLike
        A CSV, Parquet or XLSX path, or ``URL#table``.
    spec : TableSpec, optional
        The table it holds (default: guessed from the headers by :func:`detect_table`).
    mapping : ColumnMapping, optional
        Extra header spellings.
    as_of : datetime.date, optional
        When given, transactions dated after it are rejected.
    chunk_rows : int
        Rows validated at a time.

    Returns
    -------
    TableBlocks
        The table, the source's name, headers and row count (when known), and the blocks, each
        validated when it is read.

    Raises
    ------
    InputError
        When the file cannot be read, its table cannot be told from its headers or it lacks a
        required column (nothing of it is usable); when its blocks are read, if it holds no
        data row.
    """
    opened = open_source(source, chunk_rows)
    try:
        spec, found = table_columns(opened.name, opened.headers, spec, mapping)
    except InputError:
        opened.close()
        raise
    validator = BlockValidator(spec, found, opened.name, as_of,
                               mapping.decimal if mapping is not None else ".")

    def blocks() -> Iterator[LoadResult]:
        rows = 0
        for raw in opened.chunks:
            if len(raw):  # a header-only CSV comes as one empty block
                rows += len(raw)
                yield validator.validate(raw)
        if not rows:
            raise InputError([Problem(opened.name, None, None, None,
                                      "has a header but no data rows; nothing was read from it")],
                             summary=f"{opened.name}: no data rows")

    return TableBlocks(spec, opened.name, opened.headers, opened.total_rows, blocks())


def table_columns(name: str, headers: list[str], spec: TableSpec | None,
                  mapping: ColumnMapping | None) -> tuple[TableSpec, dict[str, str]]:
    """The table a file holds and the header of each of its columns, or why it is unusable.

    Parameters
    ----------
    name : str
        The file's name, as problems show it.
    headers : list of str
        Its headers as written.
    spec : TableSpec or None
        The table it must hold (None: guessed by :func:`detect_table`).
    mapping : ColumnMapping or None
        Extra header spellings.

    Returns
    -------
    spec : TableSpec
        The table.
    found : dict of str to str
        ``{canonical column: header in the file}``, holding every required column.

    Raises
    ------
    InputError
        When no table fits the headers, a required column is missing or a column is named by
        two headers.
    """
    spec = spec or detect_table(headers, mapping)
    if spec is None:
        raise InputError(
            [Problem(name, None, None, ", ".join(headers),
                     "these headers fit no input table: " + "; ".join(
                         what_tables_need(headers, mapping))
                     + (" (one column: is the separator one of , ; or tab?)"
                        if len(headers) == 1 else ""))],
            summary=f"{name}: not a transactions, customers or interactions file")
    named = headers_by_column(headers, spec, mapping)
    found = {column: written[0] for column, written in named.items()}
    missing = [c for c in spec.required_columns if c not in found]
    twice = {c: h for c, h in named.items() if len(h) > 1}
    if missing or twice:
        raise InputError(
            [Problem(name, None, c, None,
                     f"required column is missing (accepted headers: "
                     f"{', '.join((c, *spec.column(c).aliases))})") for c in missing]
            + [Problem(name, None, c, ", ".join(h),
                       f"is named by {len(h)} headers; keep one, or map the others to other "
                       "columns with --mapping") for c, h in twice.items()],
            summary=f"{name}: not a usable {spec.name} file",
        )
    return spec, found


def read_table(
    source: str | os.PathLike[str],
    spec: TableSpec | None = None,
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> LoadResult:
    """Read and validate one input, held in memory (see :func:`iter_table` for the rules).

    Parameters are those of :func:`iter_table`.

    Returns
    -------
    LoadResult
        The whole file's canonical frame, rejected rows and problems.

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

    Parameters
    ----------
    transactions : str or os.PathLike
        The transactions input (a CSV, Parquet or XLSX path, or ``URL#table``).
    customers, interactions : str or os.PathLike, optional
        The other inputs. Without customers, the customers are derived from the transactions.
    as_of : datetime.date, optional
        When given, transactions dated after it are rejected.
    max_reject_share : float
        The share of a file's rows that may be rejected (0.01: 1%).
    mapping : ColumnMapping, optional
        Extra header spellings.

    Returns
    -------
    Dataset
        The three canonical frames (interactions empty without a file) and each file's result.

    Raises
    ------
    InputError
        When a file cannot be read, lacks a required column or has no data rows, or when no
        transaction row passes.
    TooManyRejectsError
        Naming every problem, when a file's reject share is above the limit.
    """
    results = [read_table(transactions, TRANSACTIONS, mapping=mapping, as_of=as_of)]
    if customers is not None:
        results.append(read_table(customers, CUSTOMERS, mapping=mapping))
    if interactions is not None:
        results.append(read_table(interactions, INTERACTIONS, mapping=mapping))
    check_reject_shares(results, max_reject_share)
    check_transactions_loaded(results[0])
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


def validate_sources(
    sources: Iterable[str | os.PathLike[str]],
    *,
    mapping: ColumnMapping | None = None,
    as_of: date | None = None,
) -> list[LoadResult]:
    """Validate several inputs, guessing each one's table from its headers.

    When both a transactions and a customers file are given, transactions of customers missing
    from the customers file are reported as warnings (they are kept when loading).

    Parameters
    ----------
    sources : iterable of str or os.PathLike
        The inputs.
    mapping : ColumnMapping, optional
        Extra header spellings.
    as_of : datetime.date, optional
        When given, transactions dated after it are rejected.

    Returns
    -------
    list of LoadResult
        One per source, in order.

    Raises
    ------
    InputError
        When a file cannot be read or lacks a required column.
    """
    results = [read_table(s, mapping=mapping, as_of=as_of) for s in sources]
    report_unknown_customers(results)
    return results
