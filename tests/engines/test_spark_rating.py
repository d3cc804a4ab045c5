"""A rating on Spark (``local[2]``) stores what the embedded rating stores, in one piece.

Same data, same champions, same configs: the same rating key, grades, totals, checks, drift and
explanation documents (numbers within 1e-9), on SQLite (batched inserts in one transaction) and
PostgreSQL (COPY in one transaction). A job killed midway leaves no rating.
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from customer_tiering.engines.spark_rating import run_periodic_rating_spark
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.conftest import fresh_postgres_database
from tests.support.engine_compare import assert_same_rating
from tests.support.faults import TIERING, assert_no_partial_rating, cli_env, wait_for
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]
EARLIER = date(2025, 11, 30)


def _pair(trained: TrainedEnv, embedded_url: str, spark_url: str, spark: Any, as_of: date,
          **kwargs: Any) -> tuple[Any, Any]:
    want = run_periodic_rating(as_of=as_of, settings=trained.settings(embedded_url),
                               data_dir=trained.clean_dir, **kwargs)
    got = run_periodic_rating_spark(as_of=as_of, settings=trained.settings(spark_url),
                                    data=trained.clean_dir, spark=spark, **kwargs)
    assert want.created and got.created
    return want.record, got.record


def test_spark_ratings_store_the_embedded_grades_totals_and_explanations_on_sqlite(
        spark: Any, trained: TrainedEnv, tmp_path: Path) -> None:
    embedded, on_spark = f"sqlite:///{tmp_path / 'e.db'}", f"sqlite:///{tmp_path / 's.db'}"
    a, b = TierStore.open(embedded), TierStore.open(on_spark)
    # two dates: the second is graded with hysteresis against the first (previous grades)
    for as_of in (EARLIER, AS_OF):
        want, got = _pair(trained, embedded, on_spark, spark, as_of)
        assert_same_rating(b, got, a, want)
    rows = b.grades(got.id)
    assert rows["previous_grade"].notna().mean() > 0.9
    assert len(rows) == got.customer_count > 1_000
    # the same data, models and configs: the embedded store already holds this rating
    again = run_periodic_rating_spark(as_of=AS_OF, settings=trained.settings(embedded),
                                      data=trained.clean_dir, spark=spark)
    assert not again.created and again.record.id == want.id
    a.close()
    b.close()


def test_a_quota_scheme_rated_on_spark_is_loaded_by_copy_into_postgresql_as_embedded(
        spark: Any, trained: TrainedEnv, tmp_path: Path) -> None:
    with fresh_postgres_database() as embedded, fresh_postgres_database() as on_spark:
        # seed 003's 80/20 quota ranks the whole population: graded on the driver from the
        # staged totals, by the embedded function
        want, got = _pair(trained, embedded, on_spark, spark, AS_OF, scheme="seed003_pareto")
        a, b = TierStore.open(embedded), TierStore.open(on_spark)
        try:
            assert_same_rating(b, got, a, want)
            assert set(got.counts) == {"A", "B", "C", "D"}
        finally:
            a.close()
            b.close()
        assert assert_no_partial_rating(on_spark) == {got.id: (got.customer_count,) * 2}


def test_a_spark_rating_killed_midway_through_its_copy_leaves_no_rating(
        trained: TrainedEnv) -> None:
    point = "store.after_chunk"  # the rows are staged and half copied, inside the transaction
    with fresh_postgres_database() as url:
        env = cli_env(trained, url, failpoint=point, TIERING_ENGINE="spark",
                      TIERING_SPARK_CONF="spark.driver.memory=1g")
        # its own process group: the SIGKILL reaches the driver and the JVM it started
        child = subprocess.Popen([str(TIERING), "rate", "--as-of", AS_OF.isoformat(),
                                  "--data", str(trained.clean_dir)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
        try:
            wait_for(child, f"failpoint {point} reached", timeout=600)
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL
        assert assert_no_partial_rating(url) == {}
        store = TierStore.open(url)
        assert store.latest_rating() is None
        store.close()
