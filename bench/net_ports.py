#!/usr/bin/env python3
"""Published ports: throughput and latency of the kernel path (nftables DNAT) next to
the same server reached directly on the host, our userland proxy (trio, the IPv6
fallback), and docker's userland proxy (docker-proxy) when it is on the machine.

The server is one small asyncio HTTP server (keep-alive, fixed reply), the same code in
every case: on the host for "direct", in a container namespace behind a published port
otherwise. Load is ``wrk`` on loopback, once with keep-alive (bytes through the path)
and once with ``Connection: close`` (a new connection per request: conntrack/NAT or the
proxy's accept+connect per request). Target: the kernel path >= 90% of direct.

docker-proxy is not packaged alone; to compare with it (as root, nothing installed):
    apt-get download docker.io && dpkg-deb -x docker.io_*.deb x
    DOCKER_PROXY=$PWD/x/usr/sbin/docker-proxy .venv/bin/python bench/net_ports.py

Run as root: .venv/bin/python bench/net_ports.py [--seconds 3] [--rounds 3] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = r"""
import asyncio, sys
BODY = b"hello from the bench\n"
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n"
         % len(BODY)) + BODY
CLOSE = REPLY.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            if b"onnection: close" in head or b"onnection: Close" in head:
                self.t.write(CLOSE); self.t.close(); return
            self.t.write(REPLY)
async def main():
    srv = await asyncio.get_running_loop().create_server(P, sys.argv[1], int(sys.argv[2]),
                                                         backlog=1024, reuse_address=True)
    print("ready", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""

PROXY = r"""
import sys, trio
from pycompose.netplug.proxy import serve_tcp
async def main():
    async with trio.open_nursery() as n:
        await n.start(serve_tcp, "127.0.0.1", int(sys.argv[1]), (sys.argv[2], 80))
        print("ready", flush=True)
trio.run(main)
"""


def start(cmd: list[str]) -> subprocess.Popen[str]:
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        raise SystemExit(f"could not start {cmd[:3]}: {line!r}")
    return p


def wait_port(port: int) -> None:
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def wrk(port: int, seconds: int, conns: int, close: bool) -> tuple[float, str, str]:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
           f"http://127.0.0.1:{port}/"]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = re.search(r"Latency\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, lat, p99


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="median of this many runs")
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("wrk"):
        print("needs root and wrk (scripts/setup installs it)")
        return 2
    root = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    from pycompose.netplug import Networks, PortBinding
    from pycompose.util.paths import root_id

    nets = Networks(root)
    ctr = f"pcbench-{root_id(root)}"
    procs: list[subprocess.Popen[str]] = []
    try:
        nets.ensure("bench_default", project="bench")
        subprocess.run(["ip", "netns", "add", ctr], check=True)
        att = nets.attach("bench_default", "b" * 64, f"/run/netns/{ctr}")
        procs.append(start(["ip", "netns", "exec", ctr, sys.executable, "-c", SERVER,
                            "0.0.0.0", "80"]))
        procs.append(start([sys.executable, "-c", SERVER, "127.0.0.1", "18181"]))
        targets = {"direct (host)": 18181}
        kport = nets.publish("b" * 64, att.ip, [PortBinding("127.0.0.1", None, 80, "tcp")])
        targets["kernel DNAT (pycompose)"] = kport[0].host_port or 0
        procs.append(start([sys.executable, "-c", PROXY, "18182", att.ip]))
        targets["userland proxy (pycompose, trio)"] = 18182
        dproxy = os.environ.get("DOCKER_PROXY") or shutil.which("docker-proxy")
        if dproxy:
            # docker-proxy reports readiness on fd 3 and stops when it is not open
            procs.append(subprocess.Popen(
                ["sh", "-c", f"exec {dproxy} -proto tcp -host-ip 127.0.0.1 -host-port 18183 "
                 f"-container-ip {att.ip} -container-port 80 3>/dev/null"],
                stderr=subprocess.DEVNULL))
            wait_port(18183)
            targets["docker-proxy (docker 20.10)"] = 18183
        print(f"wrk -t2 -c{a.connections} -d{a.seconds}s on loopback, median of {a.rounds} "
              f"runs, {os.cpu_count()} cores\n")
        from pycompose.netplug import kernel

        for close in (False, True):
            print("keep-alive" if not close else "a new connection per request")
            print(f"  {'path':34} {'req/s':>10} {'% direct':>9} {'lat avg':>9} {'p99':>9}")
            results: dict[str, list[tuple[float, str, str]]] = {n: [] for n in targets}
            for _ in range(a.rounds):                   # interleaved: drift hits all
                for name, port in targets.items():
                    # every path's flows to the container sit in conntrack for minutes
                    # (TIME_WAIT); start each run from an empty table for it
                    kernel.forget_flows(att.ip, "tcp", 80)
                    wrk(port, 1, a.connections, close)          # warm up
                    results[name].append(wrk(port, a.seconds, a.connections, close))
            base = None
            for name, runs in results.items():
                rps, lat, p99 = sorted(runs)[len(runs) // 2]      # the median run
                base = base or rps
                print(f"  {name:34} {rps:10.0f} {100 * rps / base:8.0f}% {lat:>9} {p99:>9}")
            print()
    finally:
        for p in procs:
            p.kill()
            p.wait()
        nets.cleanup_all()
        subprocess.run(["ip", "netns", "del", ctr], check=False)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
