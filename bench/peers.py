"""The peers the benchmarks measure pycompose beside, started for one run and stopped
after: a ``dockerd`` of the bench's own (Debian's docker.io; no systemd here), with its
data-root, exec-root and socket under the bench's work folder; and ``podman`` with its
storage, run root and network config there too (never the host's /var/lib/containers,
whose overlay mount podman would otherwise leave behind), reset and unmounted after.

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


class Podman:
    """``podman`` on storage of the bench's own: ``cmd(*args)``, and ``env`` for tools
    that run podman themselves (podman-compose)."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env

    def cmd(self, *args: str) -> list[str]:
        return ["podman", *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, check=check,
                              stdin=subprocess.DEVNULL, env=self.env)


@contextlib.contextmanager
def podman(work: Path) -> Iterator[Podman | None]:
    """podman for the block, or None (with a line saying why) when it is not installed.
    Storage, run root, network config and events under ``work/podman``; runc (crun
    refuses this machine's cgroup v1/v2 hybrid), cgroupfs, and the rlimits this process
    may give (root here lacks CAP_SYS_RESOURCE: podman's defaults cannot be set). At
    the end ``podman system reset`` of that storage and an unmount of what is left."""
    if not shutil.which("podman"):
        print("podman: not installed (apt-get install podman)")
        yield None
        return
    import resource

    d = work / "podman"
    (d / "net").mkdir(parents=True, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    psoft, phard = resource.getrlimit(resource.RLIMIT_NPROC)
    (d / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{d / "root"}"\n'
        f'runroot = "{d / "run"}"\n')
    (d / "containers.conf").write_text(
        f'[network]\nnetwork_config_dir = "{d / "net"}"\n'
        'default_subnet = "10.214.0.0/24"\n'
        'default_subnet_pools = [{"base" = "10.215.0.0/16", "size" = 24}]\n'
        '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n'
        f'runtime = "runc"\ntmp_dir = "{d / "tmp"}"\n'
        f'[containers]\ndefault_ulimits = ["nofile={soft}:{hard}", '
        f'"nproc={min(psoft, 4096)}:{min(phard, 4096)}"]\n')
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(d / "storage.conf"),
               CONTAINERS_CONF=str(d / "containers.conf"))
    before = _podman_host_objects()
    system_cache = Path("/var/lib/containers")  # its blob-info cache goes there anyway
    had_cache = system_cache.exists()
    try:
        yield Podman(d, env)
    finally:
        subprocess.run(["podman", "system", "reset", "-f"], env=env, capture_output=True,
                       stdin=subprocess.DEVNULL)
        _unmount_under(d)
        # what its CNI made on the host and leaves there: the bridge, and the
        # iptables-nft tables of its firewall and masquerade plugins
        links, tables = _podman_host_objects()
        for link in links - before[0]:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for table in tables - before[1]:
            subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True)
        if not had_cache:
            shutil.rmtree(system_cache, ignore_errors=True)


#: the tables iptables-nft makes (podman's CNI plugins call iptables)
_IPTABLES_TABLES = {f"{fam} {t}" for fam in ("ip", "ip6")
                    for t in ("filter", "nat", "mangle", "raw", "security")}


def _podman_host_objects() -> tuple[set[str], set[str]]:
    """The host's CNI bridges and iptables-nft tables, to remove the ones podman made."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                         text=True).stdout
    links = {ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()
             if ln.count(":") >= 2}
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    tables = {ln.removeprefix("table ").strip() for ln in out.splitlines()}
    return ({n for n in links if n.startswith("cni-")}, tables & _IPTABLES_TABLES)


def _unmount_under(path: Path) -> None:
    """What a dockerd left mounted under its folders (it unmounts its own at exit)."""
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        mps = [ln.split()[4] for ln in f if ln.split()[4].startswith(prefix)]
    for mp in sorted(mps, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
