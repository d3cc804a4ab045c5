"""The DuckDB path of loading writes and says what the pandas path does, on every corpus case.

Every hostile-input case is run twice through the real CLI, once with ``TIERING_LOAD_ENGINE=pandas``
(every file block by block through pandas, as before issue 20) and once with the default engine
(DuckDB for the UTF-8 CSV and Parquet files it reads as pandas does): the exit code, the printed
report or error, and every file written (rejects files; with ``load``, the clean Parquet files)
must be equal byte for byte. Each case's files are also loaded with ``tiering load`` (a customers
or interactions file beside a good transactions file), so the clean data set is compared too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.ingest import engine_settings, engine_sources
from tests.reliability.test_input_corpus import AS_OF, CASES, _arguments
from tests.support.hostile_files import GOOD, HEADER, Case

ENGINES = ("pandas", "auto")
# The progress bar's line: its spinner frame and elapsed time depend on timing, not on the path.
_PROGRESS = re.compile(r"^.*\d+:\d\d:\d\d$|^[\u2800-\u28ff].*$", re.MULTILINE)


def _written(folder: Path, inputs: set[str]) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in inputs}


def _load_arguments(case: Case, folder: Path) -> list[str]:
    """``tiering load`` of the case's files, each given as the table its name says."""
    args = case.build(folder)
    options, files = [], []
    it = iter(args)
    for arg in it:
        if arg.startswith("--"):
            options += [arg, next(it)]
        else:
            files.append(arg)
    roles: dict[str, str] = {}
    for name in files:
        role = {"c": "--customers", "i": "--interactions"}.get(Path(name).name[0], "--transactions")
        roles.setdefault(role, name)
    if "--transactions" not in roles:
        (folder / "base.csv").write_text("\n".join([HEADER, *GOOD]) + "\n", encoding="utf-8")
        roles["--transactions"] = "base.csv"
    return ["load", *(a for role, name in roles.items() for a in (role, name)), "--out", "clean",
            "--as-of", AS_OF, "--max-reject-share", "1", *options]


def _run_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: object
              ) -> dict[str, tuple[int, str, dict[str, bytes]]]:
    answers = {}
    for engine in ENGINES:
        folder = tmp_path / engine
        folder.mkdir()
        monkeypatch.chdir(folder)
        monkeypatch.setenv(engine_settings.ENGINE_ENV, engine)
        args = arguments(folder)  # type: ignore[operator]
        inputs = {p.name for p in folder.rglob("*")}
        result = CliRunner().invoke(app, args)
        answers[engine] = (result.exit_code, _PROGRESS.sub("", result.output),
                           _written(folder, inputs))
    return answers


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_engines_answer_a_corpus_case_with_the_same_output_and_files(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = _run_both(tmp_path, monkeypatch, lambda folder: _arguments(case, folder))
    assert answers["auto"] == answers["pandas"]


@pytest.mark.parametrize("case", [c for c in CASES if c.command == "validate"],
                         ids=[c.name for c in CASES if c.command == "validate"])
def test_both_engines_load_a_corpus_case_into_the_same_clean_data_set(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = _run_both(tmp_path, monkeypatch, lambda folder: _load_arguments(case, folder))
    assert answers["auto"] == answers["pandas"]
    code, _, files = answers["auto"]
    if code == 0:
        assert "clean/transactions.parquet" in files


def test_the_engine_path_reads_most_corpus_files_itself(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above proves something: most CSV and Parquet cases go through DuckDB."""
    taken: list[bool] = []
    original = engine_sources.open_engine_source

    def spy(source: object) -> object:
        opened = original(source)  # type: ignore[arg-type]
        taken.append(opened is not None)
        return opened

    monkeypatch.setattr(engine_sources, "open_engine_source", spy)
    from customer_tiering.ingest import engine_streaming

    monkeypatch.setattr(engine_streaming, "open_engine_source", spy)
    for i, case in enumerate(CASES):
        folder = tmp_path / str(i)
        folder.mkdir()
        monkeypatch.chdir(folder)
        CliRunner().invoke(app, _arguments(case, folder))
    assert sum(taken) >= 60, f"{sum(taken)} of {len(taken)} files went through DuckDB"
