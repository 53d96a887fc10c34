"""The compose unit tests' shared fixture: a project folder to run the CLI in."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder, with none of the environment that would
    choose the project's name, files, profiles or env files (nor the variables the
    conformance cases interpolate) left from the caller's."""
    monkeypatch.chdir(tmp_path)
    for k in ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES",
              "COMPOSE_ENV_FILES", "HOME_DIR", "IMG"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path
