from pathlib import Path

import pytest

from customer_tiering.core.settings import Settings


def test_tier_store_defaults_to_sqlite_file_in_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIERING_DATABASE_URL", raising=False)
    settings = Settings(data_dir=Path("somewhere"))
    assert settings.tier_store_url() == "sqlite:///somewhere/tiering.db"


def test_environment_overrides_with_tiering_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("TIERING_MAX_REJECT_SHARE", "0.05")
    settings = Settings()
    assert settings.tier_store_url() == "postgresql+psycopg://u@h/db"
    assert settings.max_reject_share == 0.05


def test_reject_share_outside_zero_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERING_MAX_REJECT_SHARE", "1.5")
    with pytest.raises(ValueError, match="max_reject_share"):
        Settings()


def test_session_secret_is_shared_by_every_process_of_one_data_folder(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).session_signing_secret()
    again = Settings(data_dir=tmp_path).session_signing_secret()
    assert first == again and len(first) >= 32
    assert (tmp_path / ".session-secret").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path / "other").session_signing_secret() != first
    assert Settings(data_dir=tmp_path, session_secret="given").session_signing_secret() == "given"
