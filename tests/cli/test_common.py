"""What every command shares: option values refused at parse time, and one place that turns a
TieringError into a one-line message with exit code 2, for sub-group commands too."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import TieringError

runner = CliRunner()

LANG_COMMANDS = [
    ["rate", "--as-of", "2025-12-31"],
    ["export", "--rating", "1"],
    ["ratings", "show", "1"],
    ["ratings", "history", "C1"],
    ["scorecard", "show"],
    ["scorecard", "apply", "--input", "features.csv", "--out", "graded.csv"],
]


@pytest.mark.parametrize("command", LANG_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unknown_language_is_refused_at_parse_time(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_DATA_DIR", str(tmp_path))
    # wide enough that the message (which names TIERING_LANG too) is on one line
    result = runner.invoke(app, [*command, "--lang", "fr"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--lang'" in result.output
    assert "'fr' is not one of 'zh', 'en'" in result.output
    assert "error:" not in result.output  # Click refused it, no command ran
    assert not (tmp_path / "tiering.db").exists()  # the tier store was never opened


def test_an_unknown_export_format_is_refused_before_the_store_is_opened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["export", "--format", "pdf", "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--format'" in result.output and "'pdf'" in result.output
    assert not (tmp_path / "tiering.db").exists()
    assert not (tmp_path / "r.pdf").exists()


def test_a_tiering_error_from_any_sub_group_command_is_one_line_and_exit_code_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_DATA_DIR", str(tmp_path))
    history = runner.invoke(app, ["ratings", "history", "C404"])
    assert history.exit_code == 2
    assert history.output.splitlines() == ["error: customer 'C404' has no grade in the tier store"]

    # A group added later, whose commands carry no error handling of their own.
    probe = typer.Typer(help="Exists only in this test.")

    @probe.command("fail")
    def fail() -> None:
        raise TieringError("criteria[0].max_points: -5 must be above 0")

    @probe.command("crash")
    def crash() -> None:
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(app, "registered_groups", list(app.registered_groups))
    app.add_typer(probe, name="probe")
    failed = runner.invoke(app, ["probe", "fail"])
    assert failed.exit_code == 2, failed.output
    assert failed.output.splitlines() == ["error: criteria[0].max_points: -5 must be above 0"]
    assert "Traceback" not in failed.output
    crashed = runner.invoke(app, ["probe", "crash"])
    assert crashed.exit_code == 1  # a crash is not reported as a user error
    assert isinstance(crashed.exception, RuntimeError)
