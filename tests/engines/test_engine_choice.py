"""Choosing the engine: the embedded path never loads pyspark; bad Spark settings and staged
rows that do not add up are refused with one clear line. No Spark is started here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from customer_tiering.core.errors import TieringError
from customer_tiering.engines.spark_session import parse_spark_conf
from customer_tiering.engines.spark_staging import read_manifest, write_manifest
from tests.support.faults import cli_env
from tests.support.rating_env import AS_OF, TrainedEnv

SRC = Path(__file__).resolve().parents[2] / "src" / "customer_tiering"

# Run as when the `spark` extra is not installed: `import pyspark` fails. (When it is installed,
# MLflow's own import probes `import pyspark` (mlflow.types.schema.HAS_PYSPARK): the package, no
# JVM; our code outside the engines never imports it, which the AST test below checks.)
_EMBEDDED = """
import sys
sys.modules["pyspark"] = None
from typer.testing import CliRunner
from customer_tiering.cli import app
runner = CliRunner()
for args in (["rate", "--as-of", sys.argv[1], "--data", sys.argv[2]],
             ["features", "--as-of", sys.argv[1], "--data", sys.argv[2], "--out", sys.argv[3]]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
print(sorted({m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}
             & {"pyspark", "py4j"}))
"""


def test_no_module_outside_the_spark_engine_imports_pyspark() -> None:
    import ast

    importers = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("pyspark", "py4j") for n in names):
                importers.add(path.relative_to(SRC).as_posix())
    assert importers  # the check sees the engine's imports
    assert all(p.startswith("engines/spark_") for p in importers), sorted(importers)


def test_an_embedded_rating_and_features_through_the_cli_run_without_pyspark(
        trained: TrainedEnv, tmp_path: Path) -> None:
    env = cli_env(trained, f"sqlite:///{tmp_path / 'tiering.db'}")
    env.pop("TIERING_ENGINE", None)
    done = subprocess.run([sys.executable, "-c", _EMBEDDED, AS_OF.isoformat(),
                           str(trained.clean_dir), str(tmp_path / "features.parquet")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert pq.read_metadata(tmp_path / "features.parquet").num_rows > 1_000


def test_spark_conf_pairs_are_parsed_and_a_pair_without_a_value_is_named() -> None:
    assert parse_spark_conf("spark.executor.memory=4g, spark.sql.shuffle.partitions=64;"
                            "spark.a=b=c") == {"spark.executor.memory": "4g",
                                               "spark.sql.shuffle.partitions": "64",
                                               "spark.a": "b=c"}
    assert parse_spark_conf(None) == {}
    with pytest.raises(TieringError, match=r"'spark\.executor\.memory' is not key=value"):
        parse_spark_conf("spark.executor.memory")


def test_staged_rows_that_do_not_add_up_to_the_rated_customers_are_not_loaded(
        tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    pq.write_table(pa.table({"customer_id": ["C1", "C2"]}), folder / "part-0.parquet")
    with pytest.raises(TieringError, match="hold 2 rows for 3 rated customers"):
        write_manifest(folder, rating_key="k", customers=3)
    manifest = write_manifest(folder, rating_key="k", customers=2)
    assert manifest["parts"] == [{"file": "part-0.parquet", "rows": 2,
                                  "bytes": (folder / "part-0.parquet").stat().st_size}]
    assert read_manifest(folder, "k")["rows"] == 2
    with pytest.raises(TieringError, match="belongs to another rating"):
        read_manifest(folder, "other")
    pq.write_table(pa.table({"customer_id": ["C1"]}), folder / "part-0.parquet")  # changed
    with pytest.raises(TieringError, match="missing or changed"):
        read_manifest(folder, "k")
    assert json.loads((folder / "manifest.json").read_text())["rows"] == 2
