"""Settings every test shares."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _state_key_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clinic's state key (which signs programmer state files) lives in a temporary folder, never in the
    home directory of whoever runs the tests."""
    path = tmp_path_factory.getbasetemp() / "state.key"
    monkeypatch.setenv("OPENIDDS_STATE_KEY_FILE", str(path))
    return path
