"""``image bootstrap``: a Debian image from a package mirror with debootstrap.

Slow the first time on a machine (about a minute: it downloads from the mirror apt
uses); the layer is then cached in /var/cache/pycompose-tests (``PYCOMPOSE_TEST_CACHE``
overrides) for every later run and state root.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from pctest.cli import run

from pycompose.engine.images import ImageStore

CACHE = os.environ.get("PYCOMPOSE_TEST_CACHE", "/var/cache/pycompose-tests")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("debootstrap") is None and
                       not os.path.exists("/usr/sbin/debootstrap"),
                       reason="debootstrap is not installed (scripts/setup installs it)"),
]


def test_bootstrap_makes_a_debian_image_and_caches_it(store: ImageStore, overlay) -> None:
    env = {"PYCOMPOSE_BOOTSTRAP_CACHE": CACHE}
    args = ["image", "bootstrap", "debian:bookworm", "--suite", "bookworm"]
    r = run(args, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    img = store.resolve("debian:bookworm")
    assert r.stdout.strip() == img.id
    assert img.config["Cmd"] == ["bash"]
    merged = overlay.mount(img.lowerdirs())
    assert (merged / "etc/debian_version").read_text().startswith("12")
    assert (merged / "usr/bin/apt-get").exists() and (merged / "bin/bash").exists()
    assert not list((merged / "var/cache/apt/archives").glob("*.deb"))  # slimmed

    started = time.monotonic()
    r = run(args, env=env)
    assert r.returncode == 0 and r.stdout.strip() == img.id
    assert time.monotonic() - started < 5  # the second call only names the image

    hist = run(["image", "history", "--no-trunc", "debian:bookworm"]).stdout
    assert "debootstrap --variant=minbase" in hist and "bookworm" in hist
    assert not any(Path(store.tmp).iterdir())


def test_an_unreachable_mirror_is_a_clear_error(store: ImageStore) -> None:
    r = run(["image", "bootstrap", "deb:x", "--suite", "bookworm", "--mirror",
             "http://127.0.0.1:9/debian", "-q"], env={"PYCOMPOSE_BOOTSTRAP_CACHE": ""},
            timeout=120)
    assert r.returncode != 0
    assert "debootstrap bookworm from http://127.0.0.1:9/debian failed" in r.stderr
    assert "Traceback" not in r.stderr
    assert store.images() == [] and not any(Path(store.tmp).iterdir())
