"""Run the real ``pycompose`` console script as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The console script of the venv the tests run in (not the pyenv shim).
PYCOMPOSE = str(Path(sys.executable).with_name("pycompose"))


def run(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``pycompose ARGS`` with text output captured; never raises on a non-zero exit."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [PYCOMPOSE, *args],
        cwd=cwd,
        env=full_env,
        input=input if isinstance(input, str) or input is None else input.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
