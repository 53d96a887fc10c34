from __future__ import annotations

import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pycompose.engine.runtime import ContainerSpec, Process, Rootfs, destroy


@pytest.fixture(scope="session")
def busybox_dir(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox image unpacked once: the overlay's read-only lower layer."""
    d = tmp_path_factory.mktemp("busybox-rootfs")
    with tarfile.open(busybox_tar) as tar:
        tar.extractall(d, filter="fully_trusted")
    return d


MakeSpec = Callable[..., ContainerSpec]


@pytest.fixture
def make_spec(no_leaks: Path, busybox_dir: Path, tmp_path: Path) -> Iterator[MakeSpec]:
    """A factory of busybox container specs (overlay rootfs, unique id) under the
    test's own state root; every spec made is destroyed at teardown, before no_leaks
    looks for leftovers."""
    made: list[ContainerSpec] = []

    def make(*args: str, **kw: Any) -> ContainerSpec:
        cid = uuid.uuid4().hex[:12]
        layer = tmp_path / cid
        (layer / "upper").mkdir(parents=True)
        (layer / "work").mkdir()
        process = kw.pop("process", None) or Process(
            args=list(args), env=["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
        spec = ContainerSpec(
            id=cid, root=str(no_leaks / "containers" / cid),
            rootfs=kw.pop("rootfs", None) or Rootfs([str(busybox_dir)], str(layer / "upper"),
                                                    str(layer / "work")),
            process=process, hostname=kw.pop("hostname", cid), **kw)
        made.append(spec)
        return spec

    yield make
    for spec in made:
        destroy(spec)


@pytest.fixture(autouse=True)
def _not_a_subreaper_after() -> Iterator[None]:
    """create() makes the calling process (here pytest) a child subreaper; undo it, so
    that later tests' daemons (the supervisor double-forks) are not orphaned to pytest
    as zombies that never go away."""
    yield
    from pycompose.engine.runtime import linux

    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 0)
