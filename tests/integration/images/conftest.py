"""Fixtures for the image store's kernel tests: a store on the test's own state root,
and the everyday busybox image imported as a user would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pctest.cli import run

from pycompose.engine.images import Image, ImageStore


@pytest.fixture
def store(no_leaks: Path) -> ImageStore:
    return ImageStore(no_leaks)


@pytest.fixture
def busybox(store: ImageStore, busybox_tar: Path) -> Image:
    r = run(["image", "import", str(busybox_tar), "busybox:latest", "-c", 'CMD ["sh"]'])
    assert r.returncode == 0, r.stderr
    return store.resolve("busybox")


class Overlay:
    """Mount an image's layers read-only (lowerdirs only) or with an upper dir."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []
        self.count = 0

    def mount(self, lowerdirs: list[str], *, upper: bool = False) -> Path:
        n = self.count
        self.count += 1
        merged = self.base / f"merged{n}"
        merged.mkdir()
        opts = "lowerdir=" + ":".join(lowerdirs)
        if upper:
            (self.base / f"upper{n}").mkdir()
            (self.base / f"work{n}").mkdir()
            opts += f",upperdir={self.base}/upper{n},workdir={self.base}/work{n}"
        elif len(lowerdirs) == 1:  # without an upper dir overlay wants two lowerdirs
            (self.base / f"empty{n}").mkdir()
            opts += f":{self.base}/empty{n}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                       check=True, capture_output=True)
        self.mounted.append(merged)
        return merged

    def umount_all(self) -> None:
        for m in reversed(self.mounted):
            subprocess.run(["umount", str(m)], check=False, capture_output=True)
        self.mounted.clear()


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Overlay]:
    o = Overlay(tmp_path)
    yield o
    o.umount_all()
