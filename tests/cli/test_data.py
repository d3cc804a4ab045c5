"""The data commands: the demo job grades with the configs of ``TIERING_CONFIG_DIR``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from customer_tiering.cli import app
from tests.cli.changed_configs import changed_grade_label


def test_the_demo_job_grades_with_the_config_dir(changed_config_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--customers",
                                      "200", "--seed", "5", "--no-train-and-rate"])
    assert result.exit_code == 0, result.output
    graded = pd.read_csv(tmp_path / "demo" / "graded.csv", encoding="utf-8-sig")
    assert len(graded) == 200 and graded["grade"].nunique() > 1
    assert list(graded["grade_label"]) == [changed_grade_label(g) for g in graded["grade"]]
    assert "Tier-" in result.output  # the printed grade table uses the same labels
