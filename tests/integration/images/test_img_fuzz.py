"""Any archive, however hostile: unpacking writes nothing outside the layer directory
and fails, if it fails, with a LayerError (a clear message), never anything else."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pctest.layers import entry, make_tar

from pycompose.engine.images.layers import LayerError, unpack

MARK = f"pcfz{os.getpid()}"
_part = st.sampled_from(["a", "b", "..", ".", "outside", "etc", MARK, ".wh.a",
                         ".wh..wh..opq", ""])
_path = st.lists(_part, min_size=1, max_size=4).map("/".join) | \
    st.lists(_part, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
_target = st.sampled_from(["/", "..", "../..", "../../outside", "/etc", "a", "a/b",
                           "/OUTSIDE", "../../../../OUTSIDE", "etc/passwd", "/etc/passwd",
                           "outside"])
_member = st.tuples(st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo"]),
                    _path, _target)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(_member, min_size=1, max_size=10))
def test_nothing_escapes_and_every_failure_is_a_layer_error(members: list[tuple]) -> None:
    base = Path(tempfile.mkdtemp(prefix="pc-img-fz-", dir="/tmp"))
    try:
        layer, outside = base / "layer", base / "outside"
        layer.mkdir()
        outside.mkdir()
        entries = []
        for kind, path, target in members:
            target = target.replace("OUTSIDE", str(outside).lstrip("/"))
            entries.append(entry(path, kind, data=MARK.encode(), link=target)
                           if kind in ("symlink", "hardlink") else entry(path, kind,
                                                                        data=MARK.encode()))
        data = make_tar(entries)
        try:
            unpack(io.BytesIO(data), str(layer))
        except LayerError:
            pass
        assert sorted(os.listdir(base)) == ["layer", "outside"]
        assert os.listdir(outside) == []
        assert not Path("/etc", MARK).exists() and not Path("/", MARK).exists()
        assert not Path("/tmp", MARK).exists()
    finally:
        shutil.rmtree(base)
