"""``--userns remap`` and ``--uidmap/--gidmap`` on an imported image, as a user sees it:
root inside, the image's files root's, the container's writes the mapped root's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine



def test_userns_remap_runs_an_image_as_root_inside(engine: Engine) -> None:
    r = engine("run", "--rm", "--userns", "remap", "busybox", "sh", "-c",
               "id; stat -c %u:%g /bin/busybox; cat /proc/self/uid_map")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["uid=0(root) gid=0(root)", "0:0"]
    assert lines[2].split()[0] == "0" and lines[2].split()[1] != "0"  # root is remapped
    assert engine.ok("ls", "-aq") == ""


def test_uidmap_container_exec_and_its_writes_on_the_host(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "mapped", "--uidmap", "0:100000:65536",
              "--gidmap", "0:100000:65536", "busybox", "sleep", "60")
    r = engine("exec", "mapped", "sh", "-c", "id -u; stat -c %u /etc/passwd;"
               " echo hi > /etc/motd && echo ok")
    assert (r.returncode, r.stdout) == (0, "0\n0\nok\n"), r.stderr
    upper = Path(json.loads(engine.ok("inspect", "mapped"))[0]["GraphDriver"]["Data"]["UpperDir"])
    st = (upper / "etc/motd").stat()
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    engine.ok("rm", "-f", "mapped")


def test_commit_maps_the_owners_back_to_the_ids_inside(engine: Engine) -> None:
    """The upper dir holds host ids (100000...); the image must hold the container's."""
    engine.ok("run", "--name", "maker", "--userns", "remap", "busybox", "sh", "-c",
              "echo x > /etc/made && chown 5:6 /etc/made && touch /etc/rootfile")
    engine.ok("commit", "maker", "made:1")
    out = engine.ok("run", "--rm", "made:1", "stat", "-c", "%u:%g %n", "/etc/made",
                    "/etc/rootfile")
    assert out == "5:6 /etc/made\n0:0 /etc/rootfile\n"
    out = engine.ok("run", "--rm", "--userns", "remap", "made:1", "stat", "-c", "%u:%g",
                    "/etc/made", "/etc/rootfile")
    assert out == "5:6\n0:0\n"
    engine.ok("rm", "maker")


def test_a_new_volume_belongs_to_the_remapped_root(engine: Engine) -> None:
    """As docker's userns-remap: a fresh volume (and the image content copied into it)
    is the container root's, so it can write there."""
    out = engine.ok("run", "--rm", "--userns", "remap", "-v", "ud:/data", "-v", "ue:/etc",
                    "busybox", "sh", "-c", "touch /data/x /etc/y && stat -c %u:%g /data /data/x"
                    " /etc/passwd && echo ok")
    assert out == "0:0\n0:0\n0:0\nok\n"
    r = engine.cli("volume", "inspect", "ue")
    assert r.returncode == 0, r.stderr
    vol = json.loads(r.stdout)[0]
    st = (Path(vol["Mountpoint"]) / "passwd").stat()
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    engine.cli("volume", "rm", "ud", "ue")
