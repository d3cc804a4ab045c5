"""Broken configuration files are refused with a message naming the file and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.config_io import default_config_dir, load_yaml_model
from customer_tiering.core.errors import ConfigError
from customer_tiering.scoring.grading import GradesConfig
from customer_tiering.scoring.policies import PoliciesConfig, check_policies_cover_grades
from customer_tiering.scoring.ruleset import load_ruleset
from customer_tiering.scoring.scorecard import ScorecardConfig

CONFIG = default_config_dir()
SHIPPED = {name: yaml.safe_load((CONFIG / f"{name}.yaml").read_text(encoding="utf-8"))
           for name in ("scorecard", "grades", "policies")}
Mutation = Callable[[dict[str, Any]], None]


def band(i: int, j: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["criteria"][i]["scoring"]["bands"][j]


def set_(getter: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: object) -> Mutation:
    return lambda d: getter(d).__setitem__(key, value)


def drop(getter: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Mutation:
    return lambda d: getter(d).pop(key)


crit = lambda i: (lambda d: d["criteria"][i])  # noqa: E731
five = lambda d: d["schemes"]["seed001_five"]  # noqa: E731
grade_ = lambda i: (lambda d: d["schemes"]["seed001_five"]["grades"][i])  # noqa: E731

CARD_CASES: list[tuple[str, Mutation, str, str]] = [
    ("step points above the criterion maximum", set_(band(0, 5), "points", 60),
     "criteria[0].scoring.bands[5].points", "outside 0..50"),
    ("overlapping bands", set_(band(0, 3), "lower", 2.5),
     "criteria[0].scoring.bands[3].lower", "overlap"),
    ("a gap between bands", set_(band(0, 3), "lower", 3.5),
     "criteria[0].scoring.bands[3].lower", "gap"),
    ("first band does not start at minus infinity", set_(band(0, 0), "lower", 0),
     "criteria[0].scoring.bands[0].lower", "minus infinity"),
    ("last band does not reach plus infinity", set_(band(0, 5), "upper", 100),
     "criteria[0].scoring.bands[5].upper", "plus infinity"),
    ("maxima do not add up to the total", set_(crit(2), "max_points", 5), "total",
     "add up to 95"),
    ("criterion id used twice", set_(crit(1), "id", "avg_monthly_sales"), "criteria[1].id",
     "used twice"),
    ("unknown feature", set_(crit(0), "feature", "avg_monthly_sales_units"), "criteria[0].feature",
     "is not a feature"),
    ("unknown scoring type", set_(lambda d: d["criteria"][0]["scoring"], "type", "stairs"),
     "criteria[0].scoring", "stairs"),
    ("linear band without points_to", drop(band(1, 2), "points_to"),
     "criteria[1].scoring.bands[2]", "points_from` and `points_to"),
    ("linear points above the maximum", set_(band(1, 3), "points_to", 25),
     "criteria[1].scoring.bands[3].points_to", "outside 0..20"),
    ("judgement range upside down", set_(lambda d: d["criteria"][2]["scoring"], "min", 10),
     "criteria[2].scoring.min", "must be below max"),
    ("neutral missing policy without points", set_(crit(0), "missing", {"policy": "neutral"}),
     "criteria[0].missing.points", "needs `points`"),
    ("impute without a value", set_(crit(0), "missing", {"policy": "impute"}),
     "criteria[0].missing.value", "needs `value`"),
    ("cap above the maximum", set_(crit(2), "cap", 12), "criteria[2].cap", "outside 0..10"),
    ("negative maximum", set_(crit(2), "max_points", -10), "criteria[2].max_points",
     "greater than 0"),
    ("misspelt field", lambda d: d["criteria"][0].__setitem__("max_point", 50),
     "criteria[0].max_point", "Extra inputs"),
    ("version missing", lambda d: d.pop("version"), "version", "Field required"),
]

GRADES_CASES: list[tuple[str, Mutation, str, str]] = [
    ("thresholds not decreasing", set_(grade_(2), "min_total", 80),
     "schemes.seed001_five.grades[2].min_total", "must be below the grade above"),
    ("last grade with a threshold leaves totals without a grade", set_(grade_(4), "min_total", 10),
     "schemes.seed001_five.grades[4].min_total", "takes everything below"),
    ("a middle grade without a threshold", drop(grade_(1), "min_total"),
     "schemes.seed001_five.grades[1].min_total", "needs min_total"),
    ("quota shares not adding up to 1",
     lambda d: d["schemes"]["seed003_pareto"]["grades"][0].__setitem__("share", 0.3),
     "schemes.seed003_pareto.grades", "add up to 1.1"),
    ("default scheme that does not exist", lambda d: d.__setitem__("default_scheme", "nope"),
     "default_scheme", "'nope' is not one of the schemes"),
    ("hysteresis on a quota scheme",
     lambda d: d["schemes"]["seed003_pareto"].__setitem__("hysteresis_margin", 2),
     "schemes.seed003_pareto.hysteresis_margin", "threshold schemes only"),
    ("grade id used twice", set_(grade_(1), "id", "VIP"), "schemes.seed001_five.grades[1].id",
     "used twice"),
]


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "mutate", "field", "words"), CARD_CASES,
                         ids=[c[0] for c in CARD_CASES])
def test_broken_scorecard_is_rejected_naming_file_and_field(
    tmp_path: Path, case: str, mutate: Mutation, field: str, words: str
) -> None:
    data = copy.deepcopy(SHIPPED["scorecard"])
    mutate(data)
    path = write(tmp_path, "scorecard", data)
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, ScorecardConfig)
    assert err.value.file == str(path)
    assert err.value.field == field
    assert words in err.value.message
    assert err.value.line is not None and err.value.line >= 1
    assert str(err.value).startswith(f"{path}, line {err.value.line}: {field}: ")


@pytest.mark.parametrize(("case", "mutate", "field", "words"), GRADES_CASES,
                         ids=[c[0] for c in GRADES_CASES])
def test_broken_grade_scheme_is_rejected_naming_file_and_field(
    tmp_path: Path, case: str, mutate: Mutation, field: str, words: str
) -> None:
    data = copy.deepcopy(SHIPPED["grades"])
    mutate(data)
    path = write(tmp_path, "grades", data)
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, GradesConfig)
    assert (err.value.file, err.value.field) == (str(path), field)
    assert words in err.value.message


def test_a_grade_without_a_policy_is_rejected(tmp_path: Path) -> None:
    data = copy.deepcopy(SHIPPED["policies"])
    del data["schemes"]["seed001_five"]["dormant"]
    path = write(tmp_path, "policies", data)
    policies = load_yaml_model(path, PoliciesConfig)
    grades = load_yaml_model(CONFIG / "grades.yaml", GradesConfig)
    with pytest.raises(ConfigError, match=r"policies.yaml, line \d+: "
                                          r"schemes.seed001_five.dormant: has no policy$"):
        check_policies_cover_grades(policies, grades, str(path))


def test_a_lower_grade_with_a_faster_complaint_deadline_is_rejected(tmp_path: Path) -> None:
    data = copy.deepcopy(SHIPPED["policies"])
    data["schemes"]["seed001_five"]["potential"]["complaint_response_days"] = 0.5
    path = write(tmp_path, "policies", data)
    with pytest.raises(ConfigError) as err:
        load_ruleset(policies=path)
    assert err.value.field == "schemes.seed001_five.potential.complaint_response_days"
    assert err.value.file == str(path)
    line = path.read_text(encoding="utf-8").splitlines()[err.value.line - 1]
    assert line.strip().startswith("complaint_response_days: 0.5")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    text = (CONFIG / "scorecard.yaml").read_text(encoding="utf-8").replace(
        "  - id: loyalty", "  - id: loyalty\n   bad: [indent", 1)
    path = tmp_path / "scorecard.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, ScorecardConfig)
    assert "is not valid YAML" in err.value.message and err.value.line is not None
    assert text.splitlines()[err.value.line - 1].strip() != ""


def test_line_number_points_at_the_broken_field_in_the_shipped_layout(tmp_path: Path) -> None:
    text = (CONFIG / "scorecard.yaml").read_text(encoding="utf-8")
    broken = text.replace("{lower: 10, upper: null, points: 50,", "{lower: 10, upper: null, "
                          "points: 55,")
    path = tmp_path / "scorecard.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, ScorecardConfig)
    assert "points: 55" in broken.splitlines()[err.value.line - 1]


def test_scorecard_check_command_reports_the_file_and_field_without_a_traceback(
    tmp_path: Path,
) -> None:
    data = copy.deepcopy(SHIPPED["scorecard"])
    data["criteria"][2]["max_points"] = 5
    path = write(tmp_path, "scorecard", data)
    result = CliRunner().invoke(app, ["scorecard", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}, line" in result.output and ": total: " in result.output
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(app, ["scorecard", "check", *map(str, sorted(CONFIG.glob("*.yaml")))])
    assert ok.exit_code == 0, ok.output
