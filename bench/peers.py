"""The peers the benchmarks measure pycompose beside, started for one run and stopped
after: a ``dockerd`` of the bench's own (Debian's docker.io; no systemd here), with its
data-root, exec-root and socket under the bench's work folder.

It never touches the host's firewall (``--iptables=false``: the FORWARD policy stays as
it is), and its default network is a bridge of its own with a subnet no route uses
(``-b``), so that ``docker run`` wires a veth pair as it does for users, without the
host's ``docker0`` another dockerd may own. Stopped by its pid, never by name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _free_subnet() -> ipaddress.IPv4Network:
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True).stdout
    taken = []
    for line in routes.splitlines():
        dst = line.split()[0] if line.split() else ""
        if dst and dst[0].isdigit():
            with contextlib.suppress(ValueError):
                taken.append(ipaddress.IPv4Network(dst, strict=False))
    for third in range(100, 250):
        net = ipaddress.IPv4Network(f"10.213.{third}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise RuntimeError("no free 10.213.x.0/24 for the bench's docker bridge")


class Dockerd:
    """A running dockerd; ``docker(*args)`` runs the docker CLI against it."""

    def __init__(self, work: Path, pid: int, sock: Path) -> None:
        self.work = work
        self.pid = pid
        self.sock = sock

    def cmd(self, *args: str) -> list[str]:
        return ["docker", "-H", f"unix://{self.sock}", *args]

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, check=check,
                              stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def dockerd(work: Path) -> Iterator[Dockerd | None]:
    """A dockerd for the block, or None (with a line saying why) when it cannot run."""
    if not (shutil.which("dockerd") and shutil.which("docker")):
        print("docker: not installed (apt-get install docker.io)")
        yield None
        return
    d = work / "docker"
    d.mkdir()
    bridge = f"pcbd{os.getpid() % 100000}"
    net = _free_subnet()
    gw = next(net.hosts())
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    proc = None
    try:
        subprocess.run(["ip", "addr", "add", f"{gw}/{net.prefixlen}", "dev", bridge],
                       check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        sock = d / "docker.sock"
        log = open(d / "dockerd.log", "wb")  # noqa: SIM115 - closed with the daemon
        proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "-b", bridge, "--data-root", str(d / "data"), "--exec-root", str(d / "exec"),
             "--pidfile", str(d / "dockerd.pid"), "-H", f"unix://{sock}",
             "--storage-driver", "overlay2"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            r = subprocess.run(["docker", "-H", f"unix://{sock}", "info"],
                               capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        else:
            print(f"docker: dockerd did not start (see {d / 'dockerd.log'})")
            yield None
            return
        yield Dockerd(d, proc.pid, sock)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        _unmount_under(d)


def _unmount_under(path: Path) -> None:
    """What a dockerd left mounted under its folders (it unmounts its own at exit)."""
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        mps = [ln.split()[4] for ln in f if ln.split()[4].startswith(prefix)]
    for mp in sorted(mps, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
