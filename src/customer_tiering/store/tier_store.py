"""The tier store: ratings and grades in a real database (SQLite by default, PostgreSQL by URL).

Guarantees:

* **A rating is one transaction.** The rating row and all its grade rows are written inside one
  ``BEGIN ... COMMIT``; readers see the last complete rating until the new one commits, and a
  process killed midway (even by SIGKILL) leaves nothing behind: SQLite discards the uncommitted
  write-ahead log frames, PostgreSQL rolls back when the connection drops.
* **Idempotent.** A rating is identified by ``rating_key``, a hash of what determines it (kind,
  as_of, scheme, horizon, config hashes, model versions, data fingerprint, and for a special rating
  the customer and the reason). Storing the same rating again returns the stored one.
* **Migrated on open** by Alembic (``migrations/``), so an old store is upgraded in place.

Summaries (grade shares, migration matrix) are computed by the database with ``GROUP BY``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.core.failpoints import failpoint
from customer_tiering.store import queries
from customer_tiering.store.queries import GradeFilters, GradeListing
from customer_tiering.store.schema import upgrade_to_head
from customer_tiering.store.tables import GRADE_COLUMNS, grade_records, grades, ratings

__all__ = ["RatingRecord", "TierStore", "UnknownRatingError"]

_CHUNK_ROWS = 10_000
NEW = "(new)"
GONE = "(gone)"


class UnknownRatingError(TieringError):
    """A rating id or customer that the store does not hold."""


@dataclass(frozen=True)
class RatingRecord:
    """One stored rating's header (everything but its grade rows)."""

    id: int
    rating_key: str
    kind: str
    as_of: date
    scheme: str
    horizon_days: int | None
    customer_id: str | None
    reason: str | None
    created_at: datetime
    seconds: float | None
    customer_count: int
    data_fingerprint: str | None
    configs: dict[str, Any]
    models: dict[str, Any]
    criteria: list[dict[str, Any]]
    grade_labels: dict[str, dict[str, str]]
    policies: dict[str, Any]
    reference: dict[str, float]
    drift: list[dict[str, Any]]
    counts: dict[str, int]
    checks: list[dict[str, Any]] | None = None  # sanity checks (None: stored before 0003)

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> RatingRecord:
        values = dict(row._mapping)
        as_of = values["as_of"]
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        values["as_of"] = as_of
        return cls(**values)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers keep reading the last committed rating while a new one is written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class TierStore:
    """Read and write ratings; open with :meth:`open` (which migrates the schema)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # --- opening --------------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> TierStore:
        """Connect to ``url`` and bring its schema to the newest migration.

        A SQLite file's folder is created when missing.
        """
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            raise TieringError(f"tier store {parsed.render_as_string(hide_password=True)} is not "
                               f"reachable: {str(exc.orig).strip()}") from None
        store = cls(engine)
        if migrate:
            store.upgrade()
        return store

    def upgrade(self) -> None:
        """Run the Alembic migrations up to ``head``, one migrator at a time (several processes
        may open a new store at once; :mod:`customer_tiering.store.schema`)."""
        upgrade_to_head(self.engine)

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    def ping(self) -> None:
        """One round trip to the database; raises ``sqlalchemy.exc.SQLAlchemyError`` if it fails."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def __enter__(self) -> TierStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------------
    def save_rating(
        self,
        header: Mapping[str, Any],
        rows: pd.DataFrame | Iterable[pd.DataFrame],
        *,
        total: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[RatingRecord, bool]:
        """Store a rating and its grade rows in one transaction.

        Parameters
        ----------
        header : the ``ratings`` columns but ``id`` (``rating_key`` identifies the rating).
        rows : one row per customer with :data:`store_tables.GRADE_COLUMNS`, as one frame or as
            an iterable of frames (made lazily, written as they come, all in the transaction).
        total : number of rows in all, for ``progress`` when ``rows`` is an iterable.
        progress : called with (rows written, rows in all) after every chunk.

        Returns
        -------
        (record, created): ``created`` is False when a rating with this key was already stored,
        also when an identical rating started at the same moment was stored first (nothing is
        written then).
        """
        existing = self.rating_by_key(str(header["rating_key"]))
        if existing is not None:
            return existing, False
        if isinstance(rows, pd.DataFrame):
            frames: Iterable[pd.DataFrame] = (rows.iloc[s:s + _CHUNK_ROWS]
                                              for s in range(0, len(rows), _CHUNK_ROWS))
            total = len(rows)
        else:
            frames = rows
        try:
            rating_id = self._write_rating(header, frames, total, progress)
        except sa.exc.IntegrityError:
            # the same rating, started at the same moment, was stored first: the idempotent answer
            existing = self.rating_by_key(str(header["rating_key"]))
            if existing is None:
                raise
            return existing, False
        record = self.rating(rating_id)
        return record, True

    def _write_rating(self, header: Mapping[str, Any], frames: Iterable[pd.DataFrame],
                      total: int | None, progress: Callable[[int, int], None] | None) -> int:
        """Insert the rating and its rows in one transaction; its id."""
        failpoint("store.before_insert")  # the key was looked up: a rival may store it now
        with self.engine.begin() as conn:
            rating_id = int(conn.execute(ratings.insert().values(**header)
                                         .returning(ratings.c.id)).scalar_one())
            written = 0
            for frame in frames:
                missing = [c for c in GRADE_COLUMNS if c not in frame.columns]
                if missing:
                    raise TieringError(f"grade rows lack column(s) {missing}")
                for start in range(0, len(frame), _CHUNK_ROWS):
                    chunk = frame.iloc[start:start + _CHUNK_ROWS][list(GRADE_COLUMNS)]
                    conn.execute(grades.insert(), grade_records(chunk, rating_id))
                    written += len(chunk)
                    if progress is not None:
                        progress(written, total or written)
                    failpoint("store.after_chunk")
            failpoint("store.before_commit")
        return rating_id

    # --- reading ratings ------------------------------------------------------------------------
    def rating_by_key(self, key: str) -> RatingRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ratings).where(ratings.c.rating_key == key)).first()
        return None if row is None else RatingRecord.from_row(row)

    def rating(self, rating_id: int) -> RatingRecord:
        """The header of rating ``rating_id``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ratings).where(ratings.c.id == rating_id)).first()
        if row is None:
            raise UnknownRatingError(f"rating {rating_id} is not in the tier store",
                                     key="error_no_rating", params={"rating": rating_id})
        return RatingRecord.from_row(row)

    def ratings(self) -> pd.DataFrame:
        """All ratings, newest first (without their grade rows)."""
        cols = [ratings.c.id, ratings.c.kind, ratings.c.as_of, ratings.c.scheme,
                ratings.c.horizon_days, ratings.c.customer_id, ratings.c.reason,
                ratings.c.created_at, ratings.c.customer_count, ratings.c.seconds]
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(*cols).order_by(ratings.c.id.desc()))
            return pd.DataFrame(result.fetchall(), columns=[c.name for c in cols])

    def latest_rating(self, *, kind: str | None = "periodic", before: date | None = None,
                      scheme: str | None = None) -> RatingRecord | None:
        """The newest rating of ``kind`` (any kind when None), optionally with ``as_of < before``."""
        found = self.latest_rating_id(kind=kind, before=before, scheme=scheme)
        return None if found is None else self.rating(found)

    def latest_rating_id(self, *, kind: str | None = "periodic", before: date | None = None,
                         scheme: str | None = None) -> int | None:
        """The id of :meth:`latest_rating` (one indexed lookup; headers can be cached by id)."""
        query = sa.select(ratings.c.id)
        if kind is not None:
            query = query.where(ratings.c.kind == kind)
        if before is not None:
            query = query.where(ratings.c.as_of < before)
        if scheme is not None:
            query = query.where(ratings.c.scheme == scheme)
        query = query.order_by(ratings.c.as_of.desc(), ratings.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def rating_or_latest(self, rating_id: int | None = None) -> RatingRecord:
        """Rating ``rating_id`` (any kind), or the newest periodic one; :class:`UnknownRatingError`
        (a 404 to API and page callers) when it is missing."""
        found = self.latest_rating() if rating_id is None else self.rating(rating_id)
        if found is None:
            raise UnknownRatingError("no periodic rating yet: run `tiering rate --as-of DATE`")
        return found

    def previous_periodic(self, rating_id: int) -> RatingRecord | None:
        """The periodic rating before ``rating_id`` (same scheme), for migrations and history."""
        current = self.rating(rating_id)
        query = (sa.select(ratings)
                 .where(ratings.c.kind == "periodic", ratings.c.scheme == current.scheme,
                        ratings.c.id != rating_id,
                        sa.or_(ratings.c.as_of < current.as_of,
                               sa.and_(ratings.c.as_of == current.as_of,
                                       ratings.c.id < rating_id)))
                 .order_by(ratings.c.as_of.desc(), ratings.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RatingRecord.from_row(row)

    # --- reading grades -------------------------------------------------------------------------
    def grades(self, rating_id: int, *, columns: list[str] | None = None,
               customer_ids: list[str] | None = None) -> pd.DataFrame:
        """Grade rows of a rating (all columns, or ``columns``), ordered by customer."""
        self.rating(rating_id)
        names = columns or list(GRADE_COLUMNS)
        cols = [grades.c[n] for n in names]
        query = sa.select(*cols).where(grades.c.rating_id == rating_id)
        if customer_ids is not None:
            query = query.where(grades.c.customer_id.in_(customer_ids))
        with self.engine.connect() as conn:
            result = conn.execute(query.order_by(grades.c.customer_id))
            frame = pd.DataFrame(result.fetchall(), columns=names)
        return frame

    def iter_grades(self, rating_id: int, *, columns: list[str] | None = None,
                    chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
        """Grade rows of a rating in chunks (for exports of a million customers)."""
        self.rating(rating_id)
        names = columns or list(GRADE_COLUMNS)
        query = (sa.select(*[grades.c[n] for n in names])
                 .where(grades.c.rating_id == rating_id).order_by(grades.c.customer_id))
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
            for part in result.partitions(chunk_rows):
                yield pd.DataFrame(part, columns=names)

    def grade_list(self, rating_id: int, filters: GradeFilters, *, sort: str = "-total",
                   page: int = 1, page_size: int = 50) -> GradeListing:
        """Page ``page`` (from 1) of a rating's grades that pass ``filters``, sorted by ``sort``
        (one of :data:`queries.GRADE_SORTS`), with the count of all matching rows."""
        count, rows = queries.grade_list_statements(rating_id, filters, sort, page, page_size)
        with self.engine.connect() as conn:
            return GradeListing(int(conn.execute(count).scalar_one()),
                                [dict(r._mapping) for r in conn.execute(rows)])

    def grade_customer_ids(self, rating_id: int, filters: GradeFilters) -> set[str]:
        """The ids of every customer of a rating that passes ``filters``."""
        with self.engine.connect() as conn:
            found = conn.execute(queries.customer_ids_statement(rating_id, filters))
            return {str(r[0]) for r in found}

    def grade_filter_options(self, rating_id: int) -> dict[str, list[str]]:
        """Per column of :data:`queries.FILTER_OPTION_COLUMNS`, the values found in a rating."""
        with self.engine.connect() as conn:
            return {c: [str(r[0]) for r in conn.execute(
                queries.filter_options_statement(rating_id, c))]
                for c in queries.FILTER_OPTION_COLUMNS}

    def revenues_desc(self, rating_id: int) -> list[float]:
        """Every customer's revenue of the last 365 days in a rating, highest first (unknown
        as 0): the input of a Pareto curve."""
        with self.engine.connect() as conn:
            return [float(v) for (v,) in conn.execute(queries.revenues_statement(rating_id))]

    def customer_grade(self, customer_id: str, rating_id: int | None = None, *,
                       documents: bool = False) -> dict[str, Any]:
        """A customer's row in ``rating_id``, or in the newest rating that graded the customer.

        ``documents``: also the ``points`` and ``explanation`` JSON (about 2 KB a customer,
        left out of a plain grade read).
        """
        query = queries.customer_grade_statement(rating_id is not None, documents)
        params: dict[str, Any] = {"customer_id": customer_id}
        if rating_id is not None:
            params["rating_id"] = rating_id
        with self.engine.connect() as conn:
            row = conn.execute(query, params).first()
        if row is None:
            where = f" in rating {rating_id}" if rating_id is not None else ""
            raise UnknownRatingError(f"customer {customer_id!r} has no grade{where}",
                                     key="error_no_customer", params={"customer": customer_id})
        return dict(row._mapping)

    def customer_history(self, customer_id: str) -> pd.DataFrame:
        """Every grade the customer was given, oldest first."""
        cols = [ratings.c.id.label("rating_id"), ratings.c.kind, ratings.c.as_of,
                ratings.c.created_at, ratings.c.reason, grades.c.total, grades.c.grade,
                grades.c.previous_grade, grades.c.provisional, grades.c.churn_probability,
                grades.c.expected_value, grades.c.segment]
        query = (sa.select(*cols).join(ratings, ratings.c.id == grades.c.rating_id)
                 .where(grades.c.customer_id == customer_id)
                 .order_by(ratings.c.as_of, ratings.c.id))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).fetchall(), columns=[c.name for c in cols])
        return frame

    # --- summaries ------------------------------------------------------------------------------
    def grade_shares(self, rating_id: int) -> pd.DataFrame:
        """Customers and revenue (last 365 days, negatives as 0) per grade, with their shares.

        Grades appear in the scheme's order (best first); a grade nobody got shows zeros.
        """
        record = self.rating(rating_id)
        revenue = sa.func.sum(sa.case((grades.c.revenue_365d > 0, grades.c.revenue_365d),
                                      else_=0.0))
        query = (sa.select(grades.c.grade, sa.func.count().label("customers"),
                           revenue.label("revenue"))
                 .where(grades.c.rating_id == rating_id).group_by(grades.c.grade))
        with self.engine.connect() as conn:
            found = {r.grade: (int(r.customers), float(r.revenue or 0.0))
                     for r in conn.execute(query)}
        order = list(record.grade_labels) + sorted(set(found) - set(record.grade_labels))
        frame = pd.DataFrame({"grade": order,
                              "customers": [found.get(g, (0, 0.0))[0] for g in order],
                              "revenue": [found.get(g, (0, 0.0))[1] for g in order]})
        n, rev = frame["customers"].sum(), frame["revenue"].sum()
        frame["customer_share"] = frame["customers"] / n if n else 0.0
        frame["revenue_share"] = frame["revenue"] / rev if rev else 0.0
        return frame

    def migration_matrix(self, from_rating: int, to_rating: int) -> pd.DataFrame:
        """Customers per (grade in ``from_rating``, grade in ``to_rating``).

        Rows are the earlier grades plus ``(new)``; columns the later grades plus ``(gone)``.
        """
        before, after = self.rating(from_rating), self.rating(to_rating)
        old, new = grades.alias("old"), grades.alias("new")
        pairs = (sa.select(old.c.grade.label("from_grade"), new.c.grade.label("to_grade"),
                           sa.func.count().label("customers"))
                 .select_from(old.join(new, sa.and_(old.c.customer_id == new.c.customer_id,
                                                    new.c.rating_id == to_rating)))
                 .where(old.c.rating_id == from_rating)
                 .group_by(old.c.grade, new.c.grade))
        present_new = sa.select(new.c.customer_id).where(new.c.rating_id == to_rating)
        present_old = sa.select(old.c.customer_id).where(old.c.rating_id == from_rating)
        gone = (sa.select(old.c.grade, sa.func.count()).where(
            old.c.rating_id == from_rating, old.c.customer_id.not_in(present_new))
            .group_by(old.c.grade))
        arrived = (sa.select(new.c.grade, sa.func.count()).where(
            new.c.rating_id == to_rating, new.c.customer_id.not_in(present_old))
            .group_by(new.c.grade))
        cells: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(pairs):
                cells[(r.from_grade, r.to_grade)] = int(r.customers)
            for grade, count in conn.execute(gone):
                cells[(grade, GONE)] = int(count)
            for grade, count in conn.execute(arrived):
                cells[(NEW, grade)] = int(count)
        rows = [*before.grade_labels, NEW]
        cols = [*after.grade_labels, GONE]
        for f, t in cells:
            if f not in rows:
                rows.insert(-1, f)
            if t not in cols:
                cols.insert(-1, t)
        matrix = pd.DataFrame(0, index=pd.Index(rows, name="from_grade"),
                              columns=pd.Index(cols, name="to_grade"), dtype="int64")
        for (f, t), count in cells.items():
            matrix.loc[f, t] = count
        return matrix


def now_utc() -> datetime:
    """The time stamps the store writes (timezone-aware UTC)."""
    return datetime.now(UTC)


