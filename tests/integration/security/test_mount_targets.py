"""Mount targets (issue 16's probe notes): a mount on the container's root itself is
refused however the destination is spelt, as docker does; a target is resolved inside
the container's root (an image's ``/x -> /`` leads into the container, not to the
host) and mounted on through an fd of it, never by a path string re-walked later
(runc's CVE-2021-30465)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pctest.layers import entry

if TYPE_CHECKING:
    from conftest import Engine, MakeImage


@pytest.mark.parametrize("flags", [
    ["-v", "{h}:/"], ["-v", "{h}:/tmp/.."], ["-v", "{h}://"],
    ["--mount", "type=bind,source={h},target=/./"], ["--tmpfs", "/var/.."],
])
def test_a_mount_on_the_containers_root_is_refused(engine: Engine, tmp_path: Path,
                                                   flags: list[str]) -> None:
    args = [f.format(h=tmp_path) for f in flags]
    r = engine("run", "--rm", *args, "busybox", "true")
    assert r.returncode == 125 and 'destination "/"' in r.stderr, r.stderr
    assert engine.ok("ls", "-aq") == ""


def test_mount_targets_resolve_inside_the_container(engine: Engine, image_with: MakeImage,
                                                     tmp_path: Path) -> None:
    image_with("mnt:1", [entry("x", "symlink", link="/"),
                         entry("hosts-link", "symlink", link="/etc/hosts"),
                         entry("away", "symlink", link=str(tmp_path / "made-here"))])
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("bound\n")
    out = engine.ok("run", "--rm", "-v", f"{src}:/x/mnt/inside", "-v", f"{src}:/away/sub",
                    "mnt:1", "sh", "-c", "cat /mnt/inside/f /x/mnt/inside/f; "
                    f"cat {tmp_path}/made-here/sub/f")
    assert out == "bound\nbound\nbound\n"
    assert not Path("/mnt/inside").exists()
    assert not (tmp_path / "made-here").exists()  # made in the container, not here
