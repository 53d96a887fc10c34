"""The pure rules of engine/runtime/userns.py: which layers get idmapped, who the
mapped root is, the staged overlay's options."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.runtime.userns import (
    STAGE_DIR,
    host_id,
    is_mapped_host_id,
    needs_idmap,
    overlay_options,
)

REMAP = [{"container_id": 0, "host_id": 100000, "size": 65536}]
SPLIT = [{"container_id": 0, "host_id": 100000, "size": 1000},
         {"container_id": 1000, "host_id": 5000, "size": 1}]


def test_host_id_follows_the_lines() -> None:
    assert host_id(REMAP, 0) == 100000
    assert host_id(REMAP, 65535) == 165535
    assert host_id(REMAP, 65536) is None
    assert host_id(SPLIT, 1000) == 5000
    assert host_id([{"container_id": 1, "host_id": 100000, "size": 10}], 0) is None


def test_store_layers_are_idmapped_pre_shifted_ones_are_not() -> None:
    assert needs_idmap(0, REMAP)  # the image store's layers: host root's
    assert not needs_idmap(100000, REMAP)  # a chowned copy (docker's remapped storage)
    assert needs_idmap(165536, REMAP)
    assert not needs_idmap(5000, SPLIT)


@given(st.integers(0, 2**31), st.integers(1, 2**20), st.integers(0, 2**32 - 1))
def test_mapped_host_ids_are_exactly_the_range(base: int, size: int, hid: int) -> None:
    idmap = [{"container_id": 0, "host_id": base, "size": size}]
    assert is_mapped_host_id(idmap, hid) == (base <= hid < base + size)
    assert needs_idmap(hid, idmap) != is_mapped_host_id(idmap, hid)


def test_overlay_options_name_the_staged_layers_top_first() -> None:
    data = overlay_options(3, "/c/upper", "/c/work")
    assert data == (f"lowerdir={STAGE_DIR}/0:{STAGE_DIR}/1:{STAGE_DIR}/2,"
                    "upperdir=/c/upper,workdir=/c/work")
    assert len(overlay_options(200, "/u", "/w")) < 4096  # room for any real image


def test_commit_maps_host_ids_back_inside() -> None:
    from pycompose.engine.images.pack import to_container_id

    remap = [(0, 100000, 65536)]
    assert to_container_id(100000, remap) == 0
    assert to_container_id(100005, remap) == 5
    assert to_container_id(0, remap) == 0  # outside the map: kept
    assert to_container_id(165536, remap) == 165536
    assert to_container_id(100005, None) == 100005
