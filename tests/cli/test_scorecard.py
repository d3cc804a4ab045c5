"""``tiering scorecard``: show and apply read the configs of ``TIERING_CONFIG_DIR``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from customer_tiering.cli import app
from tests.cli.changed_configs import (
    CHANGED_CARD_VERSION,
    CHANGED_CRITERION_LABEL,
    SHIPPED_CONFIG_DIR,
    changed_grade_label,
)

runner = CliRunner()


def test_show_prints_the_card_and_grades_of_the_config_dir(changed_config_dir: Path) -> None:
    result = runner.invoke(app, ["scorecard", "show", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert f"(v{CHANGED_CARD_VERSION})" in result.output
    assert CHANGED_CRITERION_LABEL in result.output
    assert "Average monthly" not in result.output  # the shipped card was not read
    for grade_id in ("VIP", "core", "effective", "dormant", "potential"):
        assert changed_grade_label(grade_id) in result.output


def test_an_explicit_card_still_wins_over_the_config_dir(changed_config_dir: Path) -> None:
    shipped = SHIPPED_CONFIG_DIR / "scorecard.yaml"
    result = runner.invoke(app, ["scorecard", "show", "--lang", "en", "--card", str(shipped)])
    assert result.exit_code == 0, result.output
    assert "(v2025.2)" in result.output and "Average monthly" in result.output
    assert changed_grade_label("VIP") in result.output  # grades still from the config dir


def test_apply_grades_with_the_schemes_of_the_config_dir(changed_config_dir: Path,
                                                         tmp_path: Path) -> None:
    features = tmp_path / "features.csv"
    pd.DataFrame({"customer_id": ["C1", "C2"], "avg_monthly_units_12m": [12.0, 0.0]}).to_csv(
        features, index=False)
    out = tmp_path / "graded.csv"
    result = runner.invoke(app, ["scorecard", "apply", "--input", str(features), "--out",
                                 str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    graded = pd.read_csv(out, encoding="utf-8-sig")
    assert len(graded) == 2
    assert list(graded["grade_label"]) == [changed_grade_label(g) for g in graded["grade"]]
