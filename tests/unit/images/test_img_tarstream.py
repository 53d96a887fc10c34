"""The layer reader's pure parts: strict tar iteration, hashing, names, compression."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycompose.engine.images.layers import (
    HashingReader,
    LayerError,
    clean_name,
    iter_members,
    sniff_compression,
)
from pycompose.engine.images.layout import chain_id, link_name


def _tar(names: list[str], size: int = 700) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for n in names:
            ti = tarfile.TarInfo(n)
            ti.size = size
            t.addfile(ti, io.BytesIO(b"x" * size))
    return buf.getvalue()


def _names(data: bytes) -> list[str]:
    r = HashingReader(io.BytesIO(data).read)
    out = []
    for tar, m in iter_members(r):
        out.append(m.name)
        tar.fileobj.seek(m.offset_data + m.size)
    r.drain()
    return out


def test_reads_every_member_and_hashes_the_whole_stream() -> None:
    data = _tar(["a", "b", "c"])
    r = HashingReader(io.BytesIO(data).read)
    assert [m.name for _, m in iter_members(r)] == ["a", "b", "c"]
    r.drain()
    assert r.hexdigest() == "sha256:" + hashlib.sha256(data).hexdigest()
    assert r.size == len(data)


@pytest.mark.parametrize("cut", [100, 512, 1024 + 100, 3 * 1536, 3 * 1536 - 100])
def test_a_truncated_archive_is_an_error_not_a_shorter_layer(cut: int) -> None:
    data = _tar(["a", "b", "c"])
    with pytest.raises(LayerError):
        _names(data[:cut])


def test_a_corrupt_header_mid_archive_is_an_error() -> None:
    data = bytearray(_tar(["a", "b"]))
    second = data.find(b"b\x00", 1024)  # the second header's name field
    data[second + 150] ^= 0xFF  # inside the header: the checksum no longer matches
    with pytest.raises(LayerError, match="corrupt tar header"):
        _names(bytes(data))


def test_not_a_tar() -> None:
    with pytest.raises(LayerError):
        _names(b"hello world" * 100)


@pytest.mark.parametrize("name, rel", [
    ("a/b", "a/b"), ("./a/./b/", "a/b"), ("/etc/passwd", "etc/passwd"),
    ("a/../b", "b"), ("./", "."), ("/", "."),
])
def test_names_are_made_relative(name: str, rel: str) -> None:
    assert clean_name(name) == rel


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/../x", ".."])
def test_names_climbing_out_are_refused(name: str) -> None:
    with pytest.raises(LayerError, match="outside the layer"):
        clean_name(name)


def test_compression_is_sniffed() -> None:
    import zstandard

    assert sniff_compression(gzip.compress(b"x")) == "gzip"
    assert sniff_compression(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert sniff_compression(_tar(["a"])) == ""


@given(data=st.binary(max_size=5000), sizes=st.lists(st.integers(0, 3000), max_size=20))
def test_reader_returns_the_stream_in_order(data: bytes, sizes: list[int]) -> None:
    r = HashingReader(io.BytesIO(data).read)
    got = b"".join(r.read(n) for n in sizes)
    assert got == data[:len(got)]
    assert r.tell() == len(got)
    r.seek(min(len(data), r.tell() + 10))
    r.drain()
    assert r.hexdigest() == "sha256:" + hashlib.sha256(data).hexdigest()


def test_chain_ids_and_short_links() -> None:
    a, b = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    assert chain_id(None, a) == a
    c = chain_id(a, b)
    assert c == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert len(link_name(c)) == 12 and link_name(c) != link_name(a)
