from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# The warm compose worker (pycompose/cli/worker.py) lingers after a command, which a
# test's leak check would (rightly) count; tests that mean to use it turn it on for
# their own state root and stop it at teardown (the compose ``stack`` fixture).
os.environ.setdefault("PYCOMPOSE_WORKER", "0")


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PYCOMPOSE_ROOT of the test's own, for this process and the CLIs it starts."""
    root = tmp_path / "state"
    root.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
    return root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    is_root = os.geteuid() == 0
    skip = pytest.mark.skip(reason="needs root and a real kernel (tests/integration)")
    for item in items:
        if "tests/integration" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.root)
            if not is_root:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox rootfs tarball (Debian's busybox-static), made once per test session."""
    from pctest.images import busybox_available, make_busybox_rootfs_tar

    if not busybox_available():
        pytest.skip("busybox-static is not installed (scripts/setup installs it)")
    return make_busybox_rootfs_tar(tmp_path_factory.mktemp("images") / "busybox.tar")
