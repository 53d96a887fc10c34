"""Published ports: the compose/docker syntaxes, parsed into PortBindings (pure).

Short syntax: ``[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]``, with IPv6
host addresses in brackets (``[::1]:8080:80``). Long syntax: a mapping with ``target``,
``published`` (a port or a range), ``host_ip``, ``protocol`` (``mode`` is ignored: there
is no swarm ingress here).
"""

from __future__ import annotations

from pycompose.util.records import record

from .errors import NetplugError

TYPE_CHECKING = False  # not typing's: the thin CLI parses -p with this module
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PROTOCOLS = ("tcp", "udp")


@record(frozen=True)
class PortBinding:
    """One published port. ``host_ip`` "" means every host address (docker's 0.0.0.0);
    ``host_port`` None means "any free port"; with ``host_port_end`` the binding takes
    the first free port of ``host_port..host_port_end`` (``8000-8010:80``: each replica
    of a scaled service gets the next free one, as docker does)."""

    host_ip: str
    host_port: int | None
    container_port: int
    proto: str = "tcp"
    host_port_end: int | None = None

    def candidates(self) -> list[int]:
        """The host ports this binding may take, in order ([] = any free port)."""
        if self.host_port is None:
            return []
        return list(range(self.host_port, (self.host_port_end or self.host_port) + 1))

    def spec(self) -> str:
        """The binding in docker's ``-p`` syntax (``127.0.0.1:8000-8010:80/tcp``)."""
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        host = "" if self.host_port is None else str(self.host_port)
        if self.host_port_end and self.host_port_end != self.host_port:
            host += f"-{self.host_port_end}"
        prefix = f"{ip}:{host}:" if ip else (f"{host}:" if host else "")
        return f"{prefix}{self.container_port}/{self.proto}"

    def __str__(self) -> str:
        ip = self.host_ip or "0.0.0.0"
        if ":" in ip:
            ip = f"[{ip}]"
        return f"{self.container_port}/{self.proto} -> {ip}:{self.host_port or ''}"


def _port(text: str, spec: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise NetplugError(f"port {spec!r}: {text!r} is not a port number")
    if not 0 < n < 65536:
        raise NetplugError(f"port {spec!r}: {n} is not in 1..65535")
    return n


def _range(text: str, spec: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    a = _port(lo, spec)
    b = _port(hi, spec) if sep else a
    if b < a:
        raise NetplugError(f"port {spec!r}: range {text} runs backwards")
    return list(range(a, b + 1))


def _host_ip(text: str, spec: str) -> str:
    import ipaddress

    text = text.strip("[]")
    if text in ("", "0.0.0.0"):
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise NetplugError(f"port {spec!r}: {text!r} is not an IP address")


def _combine(spec: str, host_ip: str, host: list[int] | None, cont: list[int],
             proto: str) -> list[PortBinding]:
    if proto not in PROTOCOLS:
        raise NetplugError(f"port {spec!r}: protocol {proto!r} is not tcp or udp")
    if host is None:
        return [PortBinding(host_ip, None, c, proto) for c in cont]
    if len(host) == len(cont):
        return [PortBinding(host_ip, h, c, proto) for h, c in zip(host, cont, strict=True)]
    if len(cont) == 1:  # docker: "8000-8010:80" takes the first free port of the range
        return [PortBinding(host_ip, host[0], cont[0], proto,
                            host[-1] if len(host) > 1 else None)]
    raise NetplugError(f"port {spec!r}: host range and container range differ in size")


def parse_port(spec: str | int | Mapping[str, Any]) -> list[PortBinding]:
    """One ``ports:`` entry (short string, bare int, or long mapping) -> bindings."""
    if isinstance(spec, dict):
        target = spec.get("target")
        if target is None:
            raise NetplugError(f"port {dict(spec)!r}: 'target' is required")
        proto = str(spec.get("protocol") or "tcp").lower()
        ip = _host_ip(str(spec.get("host_ip") or ""), str(dict(spec)))
        published = spec.get("published")
        host = None if published in (None, "") else _range(str(published), str(dict(spec)))
        return _combine(str(dict(spec)), ip, host, _range(str(target), str(dict(spec))),
                        proto)
    text = str(spec).strip()
    body, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    host_ip = ""
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1:end + 2] != ":":
            raise NetplugError(f"port {text!r}: bad IPv6 host address")
        host_ip = _host_ip(body[1:end], text)
        body = body[end + 2:]
        parts = body.split(":")
        if len(parts) != 2:
            raise NetplugError(f"port {text!r}: expected [IP]:HOST:CONTAINER")
        host_part, cont_part = parts
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host_part, cont_part = "", parts[0]
        elif len(parts) == 2:
            host_part, cont_part = parts
        elif len(parts) == 3:
            host_ip = _host_ip(parts[0], text)
            host_part, cont_part = parts[1], parts[2]
        else:
            raise NetplugError(f"port {text!r}: too many ':' (IPv6 addresses need [ ])")
    host = _range(host_part, text) if host_part else None
    return _combine(text, host_ip, host, _range(cont_part, text), proto)


def format_mapping(bindings: list[PortBinding], container_port: int | None = None,
                   proto: str | None = None) -> list[str]:
    """``docker port`` lines: ``80/tcp -> 0.0.0.0:8080`` (all, or those of one port)."""
    out = []
    for b in bindings:
        if container_port is not None and b.container_port != container_port:
            continue
        if proto is not None and b.proto != proto:
            continue
        out.append(str(b))
    return out
