#!/usr/bin/env python3
"""Layer unpacking next to ``tar -x``, and dedupe of a layer imported twice (issue 3).

The layer is a real one when the machine has it (the debootstrap bookworm layer the
tests cache in /var/cache/pycompose-tests: ~120 MB, ~6,000 entries), else a tar of
/usr/lib/python3*. Each contender unpacks the same plain tar into a fresh directory on
the same filesystem; the median of ``--runs`` is reported.

- ``tar -x``: GNU tar with what a layer needs (``--numeric-owner -p --xattrs``).
- ``unpack``: pycompose's layers.unpack (confined paths, whiteouts, diff_id hashing).
- ``add_layer``: the whole store path: blob written and fsynced, unpack, rename.

Run as root: .venv/bin/python bench/images_unpack.py [--runs 3] [--layer FILE] [--dir D]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pycompose.engine.images import ImageStore
from pycompose.engine.images.layers import decompressed, sniff_compression, unpack


def make_layer(work: Path, given: str | None) -> Path:
    src = given or next(iter(sorted(glob.glob("/var/cache/pycompose-tests/debootstrap-*"))),
                        None)
    out = work / "layer.tar"
    if src:
        with open(src, "rb") as f:
            comp = sniff_compression(f.read(8))
            f.seek(0)
            with open(out, "wb") as o:
                shutil.copyfileobj(decompressed(f, comp), o, 1 << 20)  # type: ignore[arg-type]
        return out
    lib = sorted(glob.glob("/usr/lib/python3*"))[0]
    subprocess.run(["tar", "-C", "/", "-cf", str(out), lib.lstrip("/")], check=True)
    return out


def timed(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        subprocess.run(["sync"], check=False)
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layer", help="a layer tarball (plain or compressed)")
    ap.add_argument("--dir", default="/var/tmp",
                    help="where to unpack (/dev/shm takes the disk's noise out)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root (ownership, devices, whiteouts)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="pc-bench-img-") as w:
        work = Path(w)
        layer = make_layer(work, args.layer)
        size = layer.stat().st_size
        n = 0

        def fresh() -> Path:
            nonlocal n
            n += 1
            d = work / f"out{n}"
            d.mkdir()
            return d

        def gnu_tar() -> None:
            subprocess.run(["tar", "--numeric-owner", "-p", "--xattrs", "--xattrs-include=*",
                            "-xf", str(layer), "-C", str(fresh())], check=True)

        def ours() -> None:
            with open(layer, "rb") as f:
                unpack(f, str(fresh()))

        def store_add() -> None:
            store = ImageStore(fresh())
            with open(layer, "rb") as f:
                store.add_layer(f, None)

        t_tar = timed(gnu_tar, args.runs)
        t_ours = timed(ours, args.runs)
        t_add = timed(store_add, args.runs)
        entries = int(subprocess.run(f"tar -tf {layer} | wc -l", shell=True, check=True,
                                     capture_output=True, text=True).stdout)
        print(f"layer: {size / 1e6:.0f} MB, {entries} entries ({layer if args.layer else 'auto'})")
        print(f"{'':12} {'seconds':>8} {'MB/s':>7} {'x tar':>6}")
        for name, t in [("tar -x", t_tar), ("unpack", t_ours), ("add_layer", t_add)]:
            print(f"{name:12} {t:8.2f} {size / 1e6 / t:7.0f} {t / t_tar:6.2f}")

        # dedupe: the same layer imported twice is stored once
        store = ImageStore(fresh())
        for _ in range(2):
            with open(layer, "rb") as f:
                ref = store.add_layer(f, None)
        layers = os.listdir(store.layers_dir)
        blobs = os.listdir(store.blobs)
        du = int(subprocess.run(["du", "-sb", str(store.images_dir)], capture_output=True,
                                text=True, check=True).stdout.split()[0])
        print(f"dedupe: imported twice -> {len(layers)} layer dir, {len(blobs)} blob, "
              f"store {du / 1e6:.0f} MB for a {size / 1e6:.0f} MB layer "
              f"(chain {ref.chain_id[:19]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
