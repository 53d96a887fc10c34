"""Run opencontainers/runtime-tools' validation tests against runc and pycompose's OCI
runtime side by side, and print the ok / not ok counts of each.

Build the suite from its sources and run it (runtime-tools at commit 260e151 builds with
Debian's Go 1.19, ``apt-get install golang-go``, from its vendored modules, offline)::

    python bench/oci_validation.py --build-from https://github.com/opencontainers/runtime-tools
    python bench/oci_validation.py --build-from /path/to/a/clone/or/mirror [--suite DIR]

``--build-from`` clones that repository at ``--commit`` (260e151) into ``--suite`` (by
default a folder under /var/tmp kept for the next run: an unchanged build is reused) and
runs ``make runtimetest validation-executables`` there with ``GOFLAGS=-mod=vendor``.
Or give a suite built by hand::

    python bench/oci_validation.py --suite /tmp/runtime-tools [--runtimes runc,pycompose]
        [--only NAME,...] [--out DIR] [--jobs N]

``--suite`` (or ``$OCI_VALIDATION_DIR``) is the runtime-tools checkout holding
``runtimetest``, ``rootfs-amd64.tar.gz`` and ``validation/*/*.t``. Each test binary is
run from that folder with ``RUNTIME=...``, as ``make localvalidation`` does; counts are
the TAP lines of its stdout starting with "ok" / "not ok". The TAP output of each test
goes to ``--out`` (default a temporary folder) for reading the failures.
Needs root (the tests create real containers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _pycompose_runtime() -> str:
    venv = HERE / ".venv" / "bin" / "pycompose-runtime"
    return str(venv) if venv.exists() else (shutil.which("pycompose-runtime") or "")


def count(tap: str) -> tuple[int, int]:
    ok = sum(1 for line in tap.splitlines() if line.startswith("ok"))
    bad = sum(1 for line in tap.splitlines() if line.startswith("not ok"))
    return ok, bad


def run_one(suite: Path, test: Path, runtime: str, out: Path, timeout: float
            ) -> tuple[str, int, int, float]:
    name = test.stem
    env = dict(os.environ, RUNTIME=runtime)
    t0 = time.monotonic()
    try:
        p = subprocess.run([str(test)], cwd=suite, env=env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        stdout, stderr = p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        stdout = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = f"timed out after {timeout} s\n"
    (out / f"{name}.tap").write_text(stdout)
    (out / f"{name}.err").write_text(stderr)
    ok, bad = count(stdout)
    return name, ok, bad, time.monotonic() - t0


COMMIT = "260e151"


def build_suite(source: str, suite: Path, commit: str) -> None:
    """Clone ``source`` at ``commit`` into ``suite`` (unless it is that checkout already)
    and build the runtimetest binary and the validation tests with Debian's Go."""
    go = shutil.which("go")
    if not go:
        raise SystemExit("go not found: apt-get install golang-go (Debian 12's 1.19 builds it)")
    head = subprocess.run(["git", "-C", str(suite), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip() if (suite / ".git").exists() else ""
    if not head.startswith(commit):
        if suite.exists():
            shutil.rmtree(suite)
        subprocess.run(["git", "clone", "-q", source, str(suite)], check=True)
        subprocess.run(["git", "-C", str(suite), "checkout", "-q", commit], check=True)
    env = dict(os.environ, GOFLAGS="-mod=vendor", GOCACHE=str(suite / ".gocache"),
               GOPATH=str(suite / ".gopath"), GO111MODULE="on")
    t0 = time.monotonic()
    p = subprocess.run(["make", "runtimetest", "validation-executables"], cwd=suite, env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"building runtime-tools in {suite} failed:\n{p.stdout[-2000:]}"
                         f"{p.stderr[-2000:]}")
    print(f"built runtime-tools {commit} in {suite} ({time.monotonic() - t0:.0f} s)",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=os.environ.get("OCI_VALIDATION_DIR"),
                    help="built runtime-tools checkout ($OCI_VALIDATION_DIR)")
    ap.add_argument("--build-from", default=None, metavar="GIT",
                    help="clone runtime-tools from GIT (a URL or a local clone) and build it")
    ap.add_argument("--commit", default=COMMIT, help="the runtime-tools commit to build")
    ap.add_argument("--runtimes", default="runc,pycompose",
                    help="comma list: runc, pycompose, or paths")
    ap.add_argument("--only", default="", help="comma list of test names")
    ap.add_argument("--out", default=None, help="folder for each test's TAP output")
    ap.add_argument("--jobs", type=int, default=1, help="tests run at once")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    if args.build_from:
        suite = Path(args.suite or f"/var/tmp/pycompose-runtime-tools-{args.commit}").absolute()
        build_suite(args.build_from, suite, args.commit)
    elif not args.suite:
        ap.error("--build-from GIT or --suite DIR (or OCI_VALIDATION_DIR) is required")
    else:
        suite = Path(args.suite).absolute()
    tests = sorted(suite.glob("validation/*/*.t"))
    if not (suite / "runtimetest").exists() or not tests:
        ap.error(f"{suite}: no runtimetest or validation/*/*.t: build the suite first")
    if args.only:
        wanted = set(args.only.split(","))
        tests = [t for t in tests if t.stem in wanted]
    out_root = Path(args.out or tempfile.mkdtemp(prefix="oci-validation-"))
    results: dict[str, dict[str, tuple[int, int]]] = {}
    totals: dict[str, tuple[int, int, float]] = {}
    names = []
    for rt in args.runtimes.split(","):
        cmd = {"pycompose": _pycompose_runtime(), "runc": shutil.which("runc") or ""}.get(rt, rt)
        if not cmd:
            print(f"{rt}: not found, skipped", file=sys.stderr)
            continue
        names.append(rt)
        out = out_root / rt.replace("/", "_")
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(lambda t, c=cmd, o=out: run_one(suite, t, c, o, args.timeout),
                                 tests))
        results[rt] = {name: (ok, bad) for name, ok, bad, _ in done}
        totals[rt] = (sum(ok for _, ok, _, _ in done), sum(b for _, _, b, _ in done),
                      time.monotonic() - t0)
    width = max((len(t.stem) for t in tests), default=4)
    print(f"{'test':<{width}}  " + "  ".join(f"{n:>16}" for n in names))
    for t in tests:
        cells = []
        for n in names:
            ok, bad = results[n][t.stem]
            cells.append(f"{ok:>7} ok {bad:>3} nok")
        print(f"{t.stem:<{width}}  " + "  ".join(f"{c:>16}" for c in cells))
    print()
    for n in names:
        ok, bad, secs = totals[n]
        print(f"{n}: {ok} ok / {bad} not ok ({secs:.0f} s)")
    print(f"TAP output: {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
