"""The tier store on a real SQLite file and a real PostgreSQL database (every test runs on both)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from customer_tiering.core.errors import TieringError
from customer_tiering.store.queries import GradeFilters
from customer_tiering.store.tables import metadata
from customer_tiering.store.tier_store import GONE, NEW, TierStore, UnknownRatingError
from tests.support import store_rows


@pytest.fixture
def store(store_url: str) -> TierStore:
    opened = TierStore.open(store_url)
    yield opened
    opened.close()


def test_opening_migrates_to_the_newest_revision_and_matches_the_table_definitions(
        store: TierStore) -> None:
    assert store.schema_revision() == "0004"
    inspector = sa.inspect(store.engine)
    for table in metadata.tables.values():
        found = {c["name"] for c in inspector.get_columns(table.name)}
        assert found == {c.name for c in table.columns}, table.name
    store.upgrade()  # a second upgrade is a no-op
    assert store.schema_revision() == "0004"


def test_a_rating_is_stored_and_read_back_with_all_its_rows(store: TierStore) -> None:
    ids = [f"C{i:05d}" for i in range(25_000)]  # more than one insert chunk
    frame = store_rows.rows(ids, seed=1)
    seen: list[int] = []
    record, created = store.save_rating(store_rows.header("k1", date(2025, 12, 31),
                                                          customer_count=len(ids)), frame,
                                        progress=lambda done, total: seen.append(done))
    assert created and record.id > 0 and record.customer_count == 25_000
    assert seen[-1] == 25_000 and len(seen) == 3
    back = store.grades(record.id)
    assert list(back["customer_id"]) == ids
    np.testing.assert_allclose(back["total"].to_numpy(float), frame["total"].to_numpy(float),
                               rtol=0, atol=1e-12)
    assert back["provisional"].tolist() == frame["provisional"].tolist()
    assert back["customer_name"].iloc[7] == "客户C00007"
    chunks = list(store.iter_grades(record.id, columns=["customer_id"], chunk_rows=10_000))
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_000]


def test_storing_the_same_rating_again_writes_nothing(store: TierStore) -> None:
    frame = store_rows.rows(["a", "b", "c"], seed=2)
    first, created = store.save_rating(store_rows.header("same", date(2025, 1, 31)), frame)
    again, created_again = store.save_rating(store_rows.header("same", date(2025, 1, 31)), frame)
    assert created and not created_again and again.id == first.id
    assert len(store.ratings()) == 1 and len(store.grades(first.id)) == 3


class _RacedStore(TierStore):
    """A store whose first key lookup lets another writer store the same rating in between (the
    moment two identical ratings started at once both find no rating with their key)."""

    def __init__(self, engine: sa.Engine, rival: TierStore, frame: pd.DataFrame) -> None:
        super().__init__(engine)
        self.rival, self.frame, self.raced = rival, frame, False

    def rating_by_key(self, key: str):  # type: ignore[no-untyped-def]
        if not self.raced:
            self.raced = True
            self.rival.save_rating(store_rows.header(key, date(2025, 1, 31)), self.frame)
            return None  # what this writer saw a moment before the rival committed
        return super().rating_by_key(key)


def test_two_identical_ratings_at_once_store_one_and_tell_the_other(store: TierStore,
                                                                    store_url: str) -> None:
    frame = store_rows.rows(["a", "b", "c"], seed=4)
    raced = _RacedStore(store.engine, TierStore.open(store_url), frame)
    record, created = raced.save_rating(store_rows.header("race", date(2025, 1, 31)), frame)
    assert raced.raced and not created
    assert len(store.ratings()) == 1 and record.id == int(store.ratings()["id"].iloc[0])
    assert len(store.grades(record.id)) == 3


def test_a_failed_write_leaves_no_partial_rating(store: TierStore) -> None:
    bad = store_rows.rows(["a", "b", "b"], seed=3)  # duplicate key: the insert fails midway
    with pytest.raises(sa.exc.IntegrityError):
        store.save_rating(store_rows.header("dup", date(2025, 1, 31)), bad)
    assert store.ratings().empty
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM grades")).scalar_one() == 0


def test_grade_shares_equal_a_pandas_computation(store: TierStore) -> None:
    ids = [f"C{i}" for i in range(3_000)]
    frame = store_rows.rows(ids, seed=4)
    record, _ = store.save_rating(store_rows.header("shares", date(2025, 6, 30)), frame)
    shares = store.grade_shares(record.id).set_index("grade")
    revenue = frame["revenue_365d"].clip(lower=0)
    expected = pd.DataFrame({"customers": frame.groupby("grade").size(),
                             "revenue": revenue.groupby(frame["grade"]).sum()})
    for grade, row in expected.iterrows():
        assert shares.loc[grade, "customers"] == row["customers"]
        assert shares.loc[grade, "revenue"] == pytest.approx(row["revenue"], rel=1e-12)
        assert shares.loc[grade, "revenue_share"] == pytest.approx(
            row["revenue"] / revenue.sum(), rel=1e-12)
        assert shares.loc[grade, "customer_share"] == pytest.approx(row["customers"] / 3_000)
    assert list(shares.index) == list(store_rows.GRADES)  # the scheme's order, best first


def test_migration_matrix_equals_a_pandas_crosstab_with_new_and_gone_customers(
        store: TierStore) -> None:
    before_ids = [f"C{i}" for i in range(0, 2_000)]
    after_ids = [f"C{i}" for i in range(300, 2_400)]  # 300 gone, 400 new
    before = store_rows.rows(before_ids, seed=5)
    after = store_rows.rows(after_ids, seed=6)
    r1, _ = store.save_rating(store_rows.header("m1", date(2025, 6, 30)), before)
    r2, _ = store.save_rating(store_rows.header("m2", date(2025, 9, 30)), after)
    matrix = store.migration_matrix(r1.id, r2.id)
    joined = before[["customer_id", "grade"]].merge(after[["customer_id", "grade"]],
                                                    on="customer_id", how="outer",
                                                    suffixes=("_from", "_to"))
    joined["grade_from"] = joined["grade_from"].fillna(NEW)
    joined["grade_to"] = joined["grade_to"].fillna(GONE)
    expected = pd.crosstab(joined["grade_from"], joined["grade_to"])
    for f in expected.index:
        for t in expected.columns:
            assert matrix.loc[f, t] == expected.loc[f, t], (f, t)
    assert matrix.to_numpy().sum() == len(joined)
    assert matrix.loc[NEW].sum() == 400 and matrix[GONE].sum() == 300
    assert store.previous_periodic(r2.id).id == r1.id
    assert store.previous_periodic(r1.id) is None


def test_history_lists_every_grade_of_a_customer_oldest_first(store: TierStore) -> None:
    r1, _ = store.save_rating(store_rows.header("h1", date(2025, 3, 31)),
                              store_rows.rows(["x", "y"], seed=7))
    r2, _ = store.save_rating(store_rows.header("h2", date(2025, 6, 30)),
                              store_rows.rows(["x"], seed=8))
    history = store.customer_history("x")
    assert history["rating_id"].tolist() == [r1.id, r2.id]
    assert store.customer_grade("x")["rating_id"] == r2.id
    assert store.customer_grade("y")["rating_id"] == r1.id
    with pytest.raises(UnknownRatingError, match="'nobody' has no grade"):
        store.customer_grade("nobody")
    with pytest.raises(UnknownRatingError, match="rating 999"):
        store.grades(999)


def test_an_unreachable_store_is_a_clear_error() -> None:
    from customer_tiering.core.errors import TieringError

    with pytest.raises(TieringError, match="not reachable"):
        TierStore.open("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_grade_read_leaves_out_the_explanation_documents_unless_asked(store: TierStore
                                                                         ) -> None:
    store.save_rating(store_rows.header("d1", date(2025, 3, 31)), store_rows.rows(["x"], seed=3))
    plain = store.customer_grade("x")
    full = store.customer_grade("x", documents=True)
    assert "explanation" not in plain and "points" not in plain
    assert full["explanation"] and full["points"]
    assert {k: v for k, v in full.items() if k not in ("explanation", "points")} == plain


def test_the_grade_list_filters_sorts_and_pages_as_pandas_does(store: TierStore) -> None:
    ids = [f"C{i:04d}" for i in range(600)]
    frame = store_rows.rows(ids, seed=9, names=[f"客户{i % 37}" for i in range(600)])
    rng = np.random.default_rng(10)
    frame["previous_grade"] = [None if new else str(g) for new, g in
                               zip(rng.random(600) < 0.5, rng.choice(store_rows.GRADES, 600),
                                   strict=True)]
    record, _ = store.save_rating(store_rows.header("list", date(2025, 6, 30)), frame)
    moved = frame["previous_grade"].notna() & (frame["previous_grade"] != frame["grade"])
    cases = [
        (GradeFilters(), frame),
        (GradeFilters(grade="VIP", region="华东"),
         frame[(frame["grade"] == "VIP") & (frame["region"] == "华东")]),
        (GradeFilters(customer_type="clinic", segment="loyal", changed=True),
         frame[(frame["customer_type"] == "clinic") & (frame["segment"] == "loyal") & moved]),
        (GradeFilters(changed=False), frame[~moved]),
        (GradeFilters(search="客户3"), frame[frame["customer_name"].str.contains("客户3")]),
        (GradeFilters(search="C01"), frame[frame["customer_id"].str.contains("C01")]),
    ]
    for filters, expected in cases:
        assert 0 < len(expected) < 600 or filters == GradeFilters(), filters
        listing = store.grade_list(record.id, filters, sort="-total", page=2, page_size=7)
        ordered = expected.sort_values(["total", "customer_id"], ascending=[False, True])
        assert listing.total_count == len(expected), filters
        assert [r["customer_id"] for r in listing.rows] == ordered["customer_id"].iloc[7:14].tolist()
        assert store.grade_customer_ids(record.id, filters) == set(expected["customer_id"])
    by_churn = store.grade_list(record.id, GradeFilters(), sort="churn_probability", page_size=600)
    assert [r["customer_id"] for r in by_churn.rows] == frame.sort_values(
        ["churn_probability", "customer_id"])["customer_id"].tolist()
    assert "explanation" not in by_churn.rows[0]  # the list leaves out the documents
    with pytest.raises(TieringError, match="sort 'grade'"):
        store.grade_list(record.id, GradeFilters(), sort="grade")


def test_filter_options_and_revenues_of_a_rating(store: TierStore) -> None:
    frame = store_rows.rows([f"C{i}" for i in range(50)], seed=11)
    frame.loc[3, "segment"] = None
    record, _ = store.save_rating(store_rows.header("options", date(2025, 6, 30)), frame)
    options = store.grade_filter_options(record.id)  # in the database's collation order
    assert {c: sorted(v) for c, v in options.items()} == {
        c: sorted(frame[c].dropna().unique()) for c in ("region", "customer_type", "segment")}
    np.testing.assert_allclose(store.revenues_desc(record.id),
                               sorted(frame["revenue_365d"], reverse=True), rtol=1e-12)
    store.ping()


def test_the_latest_periodic_rating_or_an_unknown_rating_error(store: TierStore) -> None:
    with pytest.raises(UnknownRatingError, match="no periodic rating yet"):
        store.rating_or_latest()
    special, _ = store.save_rating(store_rows.header("s", date(2025, 9, 30), kind="special"),
                                   store_rows.rows(["x"], seed=1))
    with pytest.raises(UnknownRatingError, match="no periodic rating yet"):
        store.rating_or_latest()
    older, _ = store.save_rating(store_rows.header("p1", date(2025, 3, 31)),
                                 store_rows.rows(["x"], seed=2))
    newer, _ = store.save_rating(store_rows.header("p2", date(2025, 6, 30)),
                                 store_rows.rows(["x"], seed=3))
    assert store.rating_or_latest().id == newer.id
    assert store.rating_or_latest(older.id).id == older.id
    assert store.rating_or_latest(special.id).kind == "special"  # an id given is taken as it is
    with pytest.raises(UnknownRatingError, match="rating 999"):
        store.rating_or_latest(999)
