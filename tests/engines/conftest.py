"""One Spark session (``local[2]``) for every Spark test of a worker: a session costs seconds.

The Spark tests are marked ``xdist_group("spark")``, so ``pytest -n 2 --dist loadgroup`` runs them
on one worker, which starts one JVM for them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from customer_tiering.engines.spark_session import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session("local[2]", {"spark.sql.warehouse.dir": str(warehouse),
                                         "spark.driver.memory": "1g"})
    yield session
    session.stop()
