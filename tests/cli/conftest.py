"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.changed_configs import write_changed_configs


@pytest.fixture
def changed_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A changed copy of ``serving/config`` (see ``changed_configs``), named by
    ``TIERING_CONFIG_DIR``."""
    target = write_changed_configs(tmp_path / "serving-config")
    monkeypatch.setenv("TIERING_CONFIG_DIR", str(target))
    return target
