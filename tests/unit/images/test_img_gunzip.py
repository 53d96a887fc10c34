"""The layer gzip reader accepts what GzipFile accepts (members, zero padding) and
refuses the rest (trailing garbage, a cut stream, a bad CRC), with bounded reads."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycompose.engine.images import gunzip
from pycompose.engine.images.gunzip import GzipReader


def _all(data: bytes, step: int = 1 << 20) -> bytes:
    r = GzipReader(io.BytesIO(data))
    out = bytearray()
    while chunk := r.read(step):
        assert len(chunk) <= step
        out += chunk
    return bytes(out)


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=4),
       st.integers(0, 600), st.sampled_from([1, 7, 512, 1 << 20]))
def test_members_and_padding_read_back(parts: list[bytes], pad: int, step: int) -> None:
    data = b"".join(gzip.compress(p, mtime=0) for p in parts) + b"\0" * pad
    assert _all(data, step) == b"".join(parts) == gzip.decompress(data)


@pytest.mark.parametrize("use_isal", [True, False])
def test_broken_streams_are_errors(use_isal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_isal:
        monkeypatch.setattr(gunzip, "_inflater", lambda: zlib)
    good = gzip.compress(os.urandom(200_000), mtime=0)
    with pytest.raises(gunzip.errors()):
        _all(good[:-5000])  # cut short
    with pytest.raises(gunzip.errors()):
        _all(good + b"garbage")
    bad = bytearray(good)
    bad[-6] ^= 1  # the CRC
    with pytest.raises(gunzip.errors()):
        _all(bytes(bad))


def test_a_bomb_is_read_in_bounded_pieces() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), 9, mtime=0)  # 64 MiB from ~64 KiB
    r = GzipReader(io.BytesIO(bomb))
    first = r.read(1000)
    assert first == b"\0" * 1000 and len(r._out) <= (1 << 20)
