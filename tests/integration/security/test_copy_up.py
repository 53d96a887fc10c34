"""Hole 3, B10 of issue 16: a fresh volume is filled from the *image's* content at the
mount target, the target resolved inside the image (docker's copy-up), never from the
host: an image's ``/x -> /`` must not hand the host's /etc to ``-v vol:/x/etc``, and
Debian's own ``/var/run -> /run`` resolves to the image's /run, not the host's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine, MakeImage

from pctest.layers import entry


@pytest.fixture
def host_run_dir() -> Iterator[str]:
    """A directory of the host's own /run holding a secret (removed afterwards)."""
    name = f"pctest-copyup-{os.getpid()}"
    d = Path("/run", name)
    d.mkdir()
    (d / "secret.txt").write_text("host-run-secret\n")
    yield name
    shutil.rmtree(d, ignore_errors=True)


def test_copy_up_resolves_the_target_inside_the_image(
        engine: Engine, image_with: MakeImage, host_run_dir: str) -> None:
    image_with("symimg:1", [
        entry("x", "symlink", link="/"),
        entry("var/run", "symlink", link="/run"),
        entry("run/app", "dir", mode=0o750, uid=1000, gid=1000),
        entry("run/app/marker-IMAGE", data=b"from the image\n"),
        entry("srv", "symlink", link="../../../../../../etc"),
    ])
    etc_files = {"hostname", "hosts", "resolv.conf"}  # mounted by the runtime
    out = engine.ok("run", "--rm", "-v", "vsec1:/x/etc", "symimg:1", "ls", "/x/etc")
    assert set(out.split()) - etc_files == {"group", "os-release", "passwd"}  # the image's
    out = engine.ok("run", "--rm", "-v", "vsec0:/srv", "symimg:1", "ls", "/srv")
    assert set(out.split()) - etc_files == {"group", "os-release", "passwd"}
    r = engine("run", "--rm", "-v", f"vsec2:/var/run/{host_run_dir}", "symimg:1",
               "cat", f"/var/run/{host_run_dir}/secret.txt")
    assert "host-run-secret" not in r.stdout
    out = engine.ok("run", "--rm", "-v", "vsec3:/var/run/app", "symimg:1", "sh", "-c",
                    "cat /var/run/app/marker-IMAGE; stat -c '%a %u' /run/app")
    assert out == "from the image\n750 1000\n"
    for v in ("vsec0", "vsec1", "vsec2", "vsec3"):
        engine.cli("volume", "rm", v)
