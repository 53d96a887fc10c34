"""Acting as another local user, and under a careless umask, for the tests of what
other users may reach (state modes, the supervisor's socket)."""

from __future__ import annotations

import subprocess

NOBODY = 65534


def as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` as user nobody (Debian's own python3: the venv's lives under
    /root, which nobody cannot enter)."""
    return subprocess.run(["/usr/bin/python3", "-I", "-c", code, *args], user=NOBODY,
                          group=NOBODY, extra_groups=[], capture_output=True, text=True,
                          timeout=30)


def umask0(*args: str) -> subprocess.CompletedProcess[str]:
    """``pycompose ARGS`` run with ``umask 000``, as a careless shell would."""
    from pctest.cli import PYCOMPOSE

    return subprocess.run([PYCOMPOSE, *args], capture_output=True, text=True, timeout=60,
                          umask=0)


def cli_as_nobody(*args: str, env: dict[str, str] | None = None
                  ) -> subprocess.CompletedProcess[str]:
    """``pycompose ARGS`` as user nobody: Debian's python3 (the same 3.11 as the venv's)
    with this worktree and the venv's packages on its path, since nobody cannot enter
    /root where the venv's interpreter lives."""
    import os
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    site = next(p for p in sys.path if p.endswith("site-packages") and ".venv" in p)
    code = (f"import sys; sys.path[:0] = [{str(repo)!r}, {site!r}]; "
            "from pycompose.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run(["/usr/bin/python3", "-I", "-c", code, *args], user=NOBODY,
                          group=NOBODY, extra_groups=[], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))
