"""The rules across a data set's files: how much a file may reject, and unknown customers.

A file that rejects more than its allowed share of rows stops the load, naming every problem; so
does a transactions file of which no row passes (even when every row may be rejected), since an
empty data set would replace the last good one and leave nobody to rate.
Transactions of customers missing from the customers file are kept and reported as warnings
(their customer is derived, with empty master data), because dropping revenue silently is the
worse error.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from customer_tiering.core.errors import InputError, Problem, TooManyRejectsError
from customer_tiering.ingest.contract import CUSTOMERS
from customer_tiering.ingest.validation import LoadResult, empty_dtype

__all__ = [
    "check_reject_shares",
    "check_transactions_loaded",
    "derive_customers",
    "report_unknown_customers",
    "unknown_customers",
    "warn_unknown_customers",
]


def derive_customers(transactions: pd.DataFrame) -> pd.DataFrame:
    """A customers frame with one row per customer seen in transactions.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions (``customer_id`` is read).

    Returns
    -------
    pandas.DataFrame
        The customers table's columns, sorted by ``customer_id``; the master data is empty.
    """
    ids = pd.Series(sorted(transactions["customer_id"].dropna().unique()), dtype="str")
    frame = pd.DataFrame({"customer_id": ids})
    for col in CUSTOMERS.columns[1:]:
        frame[col.name] = pd.Series(None, index=frame.index, dtype=empty_dtype(col.kind))
    return frame


def check_reject_shares(results: Iterable[LoadResult], max_reject_share: float) -> None:
    """Stop when any file rejects more than its allowed share of rows.

    Parameters
    ----------
    results : iterable of LoadResult
        The validated files.
    max_reject_share : float
        The share of a file's rows that may be rejected.

    Raises
    ------
    TooManyRejectsError
        Naming every problem of the files over the limit, and each one's share.
    """
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


def check_transactions_loaded(result: LoadResult) -> None:
    """Stop when no row of the transactions file passed validation.

    Parameters
    ----------
    result : LoadResult
        The transactions file's result.

    Raises
    ------
    InputError
        Naming the file and its problems, when ``result.loaded`` is 0.
    """
    if result.table == "transactions" and result.loaded == 0:
        raise InputError(result.problems, summary=(
            f"{result.source}: no row passed validation ({result.rejected:,} rejected); an "
            "empty data set would replace the last good one, so nothing was written"))


def unknown_customers(transaction_ids: Iterable[object], known_ids: Iterable[object]
                      ) -> list[str]:
    """Customer ids with transactions but no row in the customers file.

    Parameters
    ----------
    transaction_ids : iterable
        The customer ids of the transactions (missing values are ignored).
    known_ids : iterable
        The customer ids of the customers file.

    Returns
    -------
    list of str
        Sorted.
    """
    def texts(values: Iterable[object]) -> set[str]:
        return {str(v) for v in pd.Series(list(values), dtype=object).dropna()}

    return sorted(texts(transaction_ids) - texts(known_ids))


def warn_unknown_customers(result: LoadResult, unknown: Iterable[str]) -> None:
    """One warning per unknown customer on the transactions result: kept, customer derived.

    Parameters
    ----------
    result : LoadResult
        The transactions file's result (its ``warnings`` grow).
    unknown : iterable of str
        The customer ids (:func:`unknown_customers`).
    """
    for cid in unknown:
        result.warnings.append(Problem(
            result.source, None, "customer_id", cid,
            "has transactions but is not in the customers file; kept, customer derived"))


def report_unknown_customers(results: list[LoadResult],
                             customer_ids: list[set[str]] | None = None) -> None:
    """Add a warning to each transactions result for customers absent from the customers files.

    Parameters
    ----------
    results : list of LoadResult
        The validated files (only transactions results get warnings).
    customer_ids : list of set of str, optional
        Each result's customer ids, when its frame was not kept (a streamed validation); by
        default they are read from the frames.
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
