"""The network files of a container's /etc, written as docker writes them (pure), and
``network_mode`` parsing.

resolv.conf: on a network with our DNS server, ``nameserver`` is the network's gateway
(where DnsServer listens, in the project's namespace); the container's own ``dns``
servers become that server's upstreams for the container (docker does the same with its
127.0.0.11). Without our server (``network_mode: host``), the host's file with the
container's ``dns``/``dns_search``/``dns_opt`` written over it, and loopback
nameservers dropped when the container has its own network namespace (they would point
at the container itself).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import NetplugError


def read_host_resolv(path: Path = Path("/etc/resolv.conf")) -> tuple[list[str], list[str],
                                                                      list[str]]:
    """nameservers, search domains, options of the host's resolver."""
    ns: list[str] = []
    search: list[str] = []
    opts: list[str] = []
    try:
        text = path.read_text()
    except OSError:
        return ns, search, opts
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            ns.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            opts += words[1:]
    return ns, search, opts


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf_for(*, nameservers: Sequence[str] | None = None, dns: Sequence[str] = (),
                    dns_search: Sequence[str] = (), dns_opt: Sequence[str] = (),
                    host_network: bool = False,
                    host_resolv: Path = Path("/etc/resolv.conf")) -> str:
    """The container's /etc/resolv.conf.

    ``nameservers``: our DNS server's address(es) (the gateway of the container's first
    network), or None where it has none (host network, ``none``, the default bridge of
    docker: then ``dns`` or the host's servers are written)."""
    h_ns, h_search, h_opts = read_host_resolv(host_resolv)
    if nameservers:
        servers = list(nameservers)
    elif dns:
        servers = list(dns)
    else:
        servers = h_ns if host_network else [s for s in h_ns if not _is_loopback(s)]
        if not servers:
            servers = ["8.8.8.8", "8.8.4.4"]    # docker's fallback
    search = list(dns_search) if dns_search else h_search
    opts = list(dns_opt) if dns_opt else h_opts
    lines = ["# written by pycompose"]
    lines += [f"nameserver {s}" for s in servers]
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def _split_extra_host(entry: str) -> tuple[str, str]:
    """``name:ip``, ``name=ip`` (compose), and IPv6 ``name:[::1]`` / ``name:::1``."""
    for sep in ("=", ":"):
        name, s, ip = entry.partition(sep)
        if s and name and ip:
            return name.strip(), ip.strip().strip("[]")
    raise NetplugError(f"extra_hosts entry {entry!r}: expected HOST:IP or HOST=IP")


def hosts_file_for(hostname: str, ips: Iterable[str], *, extra_hosts: Iterable[str] = (),
                   domainname: str = "", host_gateway: str | None = None,
                   aliases: Iterable[str] = ()) -> str:
    """The container's /etc/hosts, laid out as docker's."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
             "ff02::2\tip6-allrouters"]
    for entry in extra_hosts:
        name, ip = _split_extra_host(entry)
        if ip == "host-gateway":
            if host_gateway is None:
                raise NetplugError(f"extra_hosts {entry!r}: no host gateway on this network")
            ip = host_gateway
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise NetplugError(f"extra_hosts {entry!r}: {ip!r} is not an IP address")
        lines.append(f"{ip}\t{name}")
    names = [f"{hostname}.{domainname}", hostname] if domainname else [hostname]
    names += [a for a in aliases if a not in names]
    for ip in ips:
        lines.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NetworkMode:
    kind: str            # "bridge" | "host" | "none" | "service" | "container"
    target: str = ""

    @property
    def attaches(self) -> bool:
        """Whether netplug wires this container into networks at all."""
        return self.kind == "bridge"


def parse_network_mode(value: str | None) -> NetworkMode:
    if value in (None, "", "bridge", "default"):
        return NetworkMode("bridge")
    assert value is not None
    if value in ("host", "none"):
        return NetworkMode(value)
    kind, sep, target = value.partition(":")
    if sep and kind in ("service", "container") and target:
        return NetworkMode(kind, target)
    raise NetplugError(f"network_mode {value!r}: expected host, none, bridge, "
                       "service:NAME or container:NAME")
