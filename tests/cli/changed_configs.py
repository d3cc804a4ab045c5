"""A copy of the shipped serving configs with visible changes, for the commands that must read
their configs from ``TIERING_CONFIG_DIR`` rather than from the shipped folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.support.rating_env import ROOT

SHIPPED_CONFIG_DIR = ROOT / "serving" / "config"
CHANGED_CARD_VERSION = "2099.7"
CHANGED_CRITERION_LABEL = "Units/month"  # the shipped English label is "Average monthly sales"


def changed_grade_label(grade_id: str) -> str:
    """The label the changed copy gives a grade of the default scheme, in both languages."""
    return f"Tier-{grade_id}"


def write_changed_configs(target: Path) -> Path:
    """Copy ``serving/config`` to ``target`` with a new card version, the first criterion
    renamed and every grade of the default scheme relabelled; return ``target``."""
    shutil.copytree(SHIPPED_CONFIG_DIR, target)
    card = target / "scorecard.yaml"
    text = card.read_text(encoding="utf-8")
    assert 'version: "2025.2"' in text and "en: Average monthly sales" in text
    card.write_text(text.replace('version: "2025.2"', f'version: "{CHANGED_CARD_VERSION}"', 1)
                    .replace("en: Average monthly sales", f"en: {CHANGED_CRITERION_LABEL}"),
                    encoding="utf-8")
    grades_path = target / "grades.yaml"
    grades = yaml.safe_load(grades_path.read_text(encoding="utf-8"))
    for grade in grades["schemes"][grades["default_scheme"]]["grades"]:
        label = changed_grade_label(grade["id"])
        grade["label"] = {"zh": label, "en": label}
    grades_path.write_text(yaml.safe_dump(grades, allow_unicode=True), encoding="utf-8")
    return target
