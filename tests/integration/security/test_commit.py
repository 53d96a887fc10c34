"""Issue 16's "all file work on a container's behalf": ``commit`` of a running
container packs its upper dir while the container may swap a directory or a file for
a symlink to the host; the image must never hold a host file. (The window the old
path-walking pack left was microseconds wide: this race seldom hits it, unlike cp's
in test_cp_out.py; it guards the fd walk that closed it.)"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Engine


def test_packing_a_running_containers_upper_dir_never_takes_a_host_file(
        engine: Engine, victim: Path) -> None:
    from pycompose.engine.images.pack import pack

    engine.ok("run", "-d", "--name", "swapper", "busybox", "sh", "-c",
              f"mkdir -p /w/a /w/0big; echo c > /w/a/f; echo container-file-of-40-bytes > /w/f; "
              f"ln -s {victim} /w/dsym; ln -s {victim}/marker-HOST /w/fsym; "
              "for i in $(seq 300); do echo $i > /w/0big/$i; done; "
              "while true; do mv /w/a /w/a.t; mv /w/dsym /w/a; mv /w/a /w/dsym; "
              "mv /w/a.t /w/a; mv /w/f /w/f.t; mv /w/fsym /w/f; mv /w/f /w/fsym; "
              "mv /w/f.t /w/f; done")
    time.sleep(0.3)
    upper = json.loads(engine.ok("inspect", "swapper"))[0]["GraphDriver"]["Data"]["UpperDir"]
    for i in range(60):
        buf = io.BytesIO()
        try:
            pack(upper, buf)
        except OSError:
            continue  # an entry vanished mid-walk: an error is fine, a leak is not
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            for m in tar.getmembers():
                assert not m.name.endswith(("marker-HOST", "victim.txt")), f"try {i}: {m.name}"
                if m.isfile():
                    data = tar.extractfile(m)
                    assert data is not None and b"HOST-SECRET" not in data.read(), m.name
