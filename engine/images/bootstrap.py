"""``image bootstrap``: a Debian-family base image made by debootstrap from a package
mirror, for machines with no registry (``debian:bookworm``-like images).

debootstrap runs in a private mount namespace (``unshare --mount``) so the /proc, /sys
and /dev mounts it makes inside the target vanish with it, even if it is killed: a
later ``rm -rf`` of a half-made rootfs can never descend into the host's /dev.

Results are cached by their arguments (suite, mirror, variant, packages, arch): in the
store (a second call only tags the image) and, when ``$PYCOMPOSE_BOOTSTRAP_CACHE`` names
a directory, as a zstd layer tarball there that other state roots on the machine reuse
(the tests' machine-wide cache).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pycompose.util.fs import atomic_write_json, read_json

from ..errors import EngineError, NotFound
from . import changes as C
from .commit import DEFAULT_ENV
from .image import Image
from .pack import pack
from .store import ImageStore

DEFAULT_MIRROR = "http://deb.debian.org/debian"
CACHE_ENV = "PYCOMPOSE_BOOTSTRAP_CACHE"


class BootstrapError(EngineError):
    """debootstrap failed or is missing."""


def default_mirror() -> str:
    """The Debian mirror apt uses here (deb822 ``URIs:`` or one-line ``deb`` entries)."""
    uris: list[str] = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            uris += re.findall(r"(?m)^URIs:\s*(\S+)", Path(path).read_text())
        except OSError:
            continue
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        try:
            uris += re.findall(r"(?m)^deb\s+(?:\[[^]]*\]\s+)?(\S+)", Path(path).read_text())
        except OSError:
            continue
    for uri in uris:
        if "security" not in uri and uri.startswith(("http://", "https://", "file:/")):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def cache_key(*, suite: str, mirror: str, variant: str, include: list[str],
              arch: str) -> str:
    doc = {"suite": suite, "mirror": mirror.rstrip("/"), "variant": variant,
           "include": sorted(include), "arch": arch, "format": 1}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def _run_debootstrap(rootfs: Path, *, suite: str, mirror: str, variant: str,
                     include: list[str], arch: str,
                     progress: Callable[[str], None]) -> None:
    exe = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.path.exists(exe):
        raise BootstrapError("debootstrap is not installed (apt-get install debootstrap)")
    cmd = [exe, f"--variant={variant}", f"--arch={arch}"]
    if include:
        cmd.append("--include=" + ",".join(include))
    cmd += [suite, str(rootfs), mirror]
    if shutil.which("unshare"):
        cmd = ["unshare", "--mount", "--propagation", "private", *cmd]
    progress("running: " + " ".join(cmd))
    tail: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "LC_ALL": "C"})
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail, line][-15:]
            if line.startswith(("I: Retrieving", "I: Validating", "I: Extracting",
                                "I: Unpacking", "I: Configuring")):
                continue  # one line per package: too chatty
            progress(line)
    finally:
        rc = proc.wait()
    if rc != 0:
        log = rootfs / "debootstrap" / "debootstrap.log"
        extra = ""
        if log.exists():
            extra = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise BootstrapError(f"debootstrap {suite} from {mirror} failed (exit {rc}):\n"
                             + "\n".join(tail) + ("\n" + extra if extra else ""))


def _slim(rootfs: Path) -> None:
    """What a docker base image leaves out: downloaded .debs, apt lists, logs."""
    for pattern in ["var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
                    "var/lib/apt/lists/*_*", "var/log/*.log", "var/log/apt/*"]:
        for p in glob.glob(str(rootfs / pattern)):
            if os.path.isfile(p) and not os.path.islink(p):
                os.unlink(p)
    for name in ("proc", "sys", "dev/pts"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)


def bootstrap(store: ImageStore, ref: str, *, suite: str, mirror: str | None = None,
              variant: str = "minbase", include: list[str] = (),  # type: ignore[assignment]
              arch: str | None = None,
              progress: Callable[[str], None] = lambda s: None) -> Image:
    """Make (or find cached) the debootstrap image and name it ``ref``."""
    mirror = (mirror or default_mirror()).rstrip("/")
    arch = arch or C.go_arch()
    include = list(include)
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", suite):
        raise BootstrapError(f"invalid suite name {suite!r}")
    key = cache_key(suite=suite, mirror=mirror, variant=variant, include=include, arch=arch)
    record = store.images_dir / "bootstrap" / f"{key}.json"
    with store.writing():
        if record.exists():
            try:
                im = store.resolve(read_json(record)["image"])
                store.tag(im.id, ref)
                progress(f"cached: {suite} ({variant}) from {mirror}")
                return store.resolve(im.id)
            except (NotFound, KeyError, ValueError, OSError):
                pass
        created = C.now_rfc3339()
        created_by = (f"debootstrap --variant={variant} --arch={arch}"
                      + (f" --include={','.join(include)}" if include else "")
                      + f" {suite} / {mirror}")
        cache_dir = os.environ.get(CACHE_ENV)
        cached = Path(cache_dir) / f"debootstrap-{key}.tar.zst" if cache_dir else None
        if cached and cached.is_file():
            progress(f"using the machine cache {cached}")
            with open(cached, "rb") as f:
                layer = store.add_layer(f, None, what=f"cached bootstrap {cached}")
        else:
            with store.tmpdir() as work:
                rootfs = work / "rootfs"
                _run_debootstrap(rootfs, suite=suite, mirror=mirror, variant=variant,
                                 include=include, arch=arch, progress=progress)
                _slim(rootfs)
                progress("packing the root filesystem")
                tarball = work / "layer.tar.zst"
                _pack_zstd(rootfs, tarball)
                with open(tarball, "rb") as f:
                    layer = store.add_layer(f, None, what=f"debootstrap {suite}")
                if cached:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_name(cached.name + f".tmp-{os.getpid()}")
                    shutil.copyfile(tarball, tmp)
                    os.replace(tmp, cached)
        config = {"Env": list(DEFAULT_ENV), "Cmd": ["bash"]}
        oci = C.new_config(config=config, diff_ids=[layer.diff_id], created=created,
                           history=[C.history_entry(
                               created=created, created_by=created_by,
                               comment=f"pycompose image bootstrap {ref}")])
        im = store.add_image(oci, [layer], [ref])
        atomic_write_json(record, {"image": im.id, "suite": suite, "mirror": mirror,
                                   "variant": variant, "include": include, "arch": arch})
        return im


def _pack_zstd(rootfs: Path, dest: Path) -> None:
    import zstandard

    with open(dest, "wb") as raw:
        cctx = zstandard.ZstdCompressor(level=3, threads=-1)
        with cctx.stream_writer(raw, closefd=False) as z:
            pack(str(rootfs), z)
        raw.flush()
        os.fsync(raw.fileno())
