"""Loading a staged rating into the tier store in one transaction, fast per database.

The rows of a rating computed elsewhere (a Spark job's staged Parquet) come in as frames with the
store's ``GRADE_COLUMNS``. They are loaded inside one transaction with the rating's header, as
:meth:`~customer_tiering.store.tier_store.TierStore.save_rating` does, so a killed load leaves no
partial rating:

* **PostgreSQL**: ``COPY grades (...) FROM STDIN`` on the transaction's connection;
* **SQLite**: :meth:`TierStore.save_rating` itself (batched inserts inside one transaction).

The same fail points as the embedded write (``store.before_insert``, ``store.after_chunk``,
``store.before_commit``) let the reliability tests kill it halfway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.core.failpoints import failpoint
from customer_tiering.store.tables import GRADE_COLUMNS, grade_records, ratings
from customer_tiering.store.tier_store import RatingRecord, TierStore

__all__ = ["load_rating"]


def load_rating(
    store: TierStore,
    header: Mapping[str, Any],
    frames: Iterable[pd.DataFrame],
    *,
    total: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[RatingRecord, bool]:
    """Store a rating's header and rows in one transaction (COPY on PostgreSQL).

    Parameters
    ----------
    store : TierStore
    header : the ``ratings`` columns but ``id``.
    frames : the grade rows, in chunks, each with ``GRADE_COLUMNS``.
    total : the number of rows in all.
    progress : called with (rows written, rows in all) after every chunk.

    Returns
    -------
    (record, created), as :meth:`TierStore.save_rating`.
    """
    if store.engine.dialect.name != "postgresql":
        return store.save_rating(header, frames, total=total, progress=progress)
    existing = store.rating_by_key(str(header["rating_key"]))
    if existing is not None:
        return existing, False
    failpoint("store.before_insert")
    try:
        with store.engine.begin() as conn:
            rating_id = int(conn.execute(ratings.insert().values(**header)
                                         .returning(ratings.c.id)).scalar_one())
            raw = conn.connection.driver_connection  # psycopg's own connection, in the transaction
            assert raw is not None
            cursor = raw.cursor()
            columns = ["rating_id", *GRADE_COLUMNS]
            written = 0
            with cursor.copy(f"COPY grades ({', '.join(columns)}) FROM STDIN") as copy:
                for frame in frames:
                    missing = [c for c in GRADE_COLUMNS if c not in frame.columns]
                    if missing:
                        raise TieringError(f"grade rows lack column(s) {missing}")
                    for record in grade_records(frame[list(GRADE_COLUMNS)], rating_id):
                        copy.write_row([record[c] for c in columns])
                    written += len(frame)
                    if progress is not None:
                        progress(written, total)
                    failpoint("store.after_chunk")
            failpoint("store.before_commit")
    except sa.exc.IntegrityError:
        existing = store.rating_by_key(str(header["rating_key"]))
        if existing is None:
            raise
        return existing, False
    return store.rating(rating_id), True
