"""The warm compose worker (``pycompose/cli/worker.py``): a second compose command
is served by it, with the caller's argv, environment, folder, umask and exit status,
its socket is 0600, and it leaves on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from pctest.cli import PYCOMPOSE
from pctest.stack import worker_pid


def test_a_compose_command_runs_in_the_worker_as_itself(state_root: Path,
                                                        tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "compose.yaml").write_text(
        "services:\n  web: {image: busybox, environment: {X: '${FROM_ENV}'}}\n")
    env = dict(os.environ, PYCOMPOSE_WORKER="1", FROM_ENV="hello")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYCOMPOSE, *args], cwd=project, env=env, text=True,
                              capture_output=True, timeout=60)
    first = cli("config", "--services")
    assert first.returncode == 0 and first.stdout == "web\n", first.stderr
    sock = state_root / "compose.sock"
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = worker_pid(state_root)
    assert pid is not None and sock.exists()
    try:
        assert os.stat(sock).st_mode & 0o777 == 0o600
        r = cli("config", "--format", "json")
        assert r.returncode == 0 and '"X": "hello"' in r.stdout, r.stderr
        r = cli("config", "--services", "--no-such-flag")
        assert r.returncode == 2 and "unrecognized arguments" in r.stderr
        r = cli("-f", "missing.yaml", "config")
        assert r.returncode == 1 and "missing.yaml" in r.stderr
        assert worker_pid(state_root) == pid  # served by the same worker
        log = (state_root / "compose-worker.log").read_text()
        assert "serving" in log
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while worker_pid(state_root) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker_pid(state_root) is None
    assert not sock.exists()


LIGHT_PROBE = """
import sys
sys.path.insert(0, {repo!r})
from pycompose.cli import main, worker
def forward(root, argv):
    print("HEAVY=" + ",".join(sorted(m for m in sys.modules if m in {heavy!r})))
    return 0
worker.forward = forward
sys.exit(main({argv!r}))
"""


def test_a_command_for_the_worker_is_sent_before_anything_heavy_is_imported() -> None:
    """Its client imports no argparse, json, pathlib or contextlib (~10 ms together):
    run without site (the editable install's finder imports pathlib and re itself)."""
    import sys

    repo = str(Path(__file__).resolve().parents[3])
    heavy = {"argparse", "json", "pathlib", "contextlib", "re", "enum", "typing", "array"}
    for argv in (["ls", "-q"], ["-p", "x", "up", "-d"], ["image", "pull", "busybox"]):
        r = subprocess.run([sys.executable, "-S", "-c", LIGHT_PROBE.format(
            repo=repo, heavy=heavy, argv=argv)], capture_output=True, text=True,
            env=dict(os.environ, PYCOMPOSE_WORKER="1"), timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1] == "HEAVY=", (argv, r.stdout)


def test_what_the_global_options_ask_for_is_answered_here() -> None:
    from pycompose.cli import _answered_here, _in_worker

    for words in (["-h"], ["--help"], ["-v"], ["--version"], ["--vers"], ["--he"],
                  ["-p", "x", "--help"], ["-hv"]):
        assert _answered_here(words), words
    for words in ([], ["-p", "help"], ["-f", "-v.yml"], ["--file=--help"], ["-fh.yml"],
                  ["--project-name", "v"], ["--dry-run"], ["--verbose"]):
        assert not _answered_here(words), words
    assert _in_worker("up", ["-d"]) and _in_worker("image", ["pull", "x"])
    assert not _in_worker("image", ["ls"]) and not _in_worker("up", ["--help"])
    assert not _in_worker("container", ["run", "x"]) and not _in_worker("image", [])
