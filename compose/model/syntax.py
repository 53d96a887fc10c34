"""The short syntaxes of the Compose Specification, parsed into their long forms.

Pure functions without pydantic, so that they are cheap to test on their own. Each
raises :class:`SyntaxProblem` with a sentence that says what was expected; the model
layer turns it into a validation error at the right key, and :func:`validate` into a
``ComposeError`` with the file, line and column.
"""

from __future__ import annotations

import re
import shlex
from typing import Any


class SyntaxProblem(ValueError):
    """A value that does not match its short syntax; ``str`` is the user's message."""


# -- scalars ------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """A Go duration (``1m30s``, ``500ms``, ``1.5h``) or a number of seconds, in seconds."""
    if isinstance(value, bool):
        raise SyntaxProblem(f"expected a duration like '30s' or '1m30s', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise SyntaxProblem(f"expected a positive duration, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise SyntaxProblem(f"expected a duration like '30s' or '1m30s', got {kind_of(value)}")
    text = value.strip()
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise SyntaxProblem(
            f"expected a duration like '30s', '1m30s' or '500ms', got {value!r}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds as Go's ``time.Duration.String()`` prints them (docker compose's output)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1e3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1e6)}ms"
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    s = _trim(rest / 1e9)
    if h:
        return f"{sign}{h}h{m}m{s}s"
    if m:
        return f"{sign}{m}m{s}s"
    return f"{sign}{s}s"


def _trim(x: float) -> str:
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text or "0"


_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)\s*$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50,
               "e": 1 << 60}


def parse_bytes(value: Any) -> int:
    """A size (``512m``, ``1g``, ``1024``, ``2GiB``) in bytes; docker's units are binary."""
    if isinstance(value, bool):
        raise SyntaxProblem(f"expected a size like '512m' or '1g', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = _BYTES.match(value)
        if m:
            return int(float(m.group(1)) * _BYTE_UNITS[m.group(2).lower()])
        if value.strip() == "-1":
            return -1
    raise SyntaxProblem(f"expected a size like '512m', '1g' or a number of bytes, "
                        f"got {value!r}")


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def scalar_text(value: Any) -> str:
    """A YAML scalar as compose writes it in a string context (``true``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- lists or mappings ---------------------------------------------------------------


def list_or_dict(value: Any, *, sep: str = "=", empty: str | None = None,
                 what: str = "KEY=VALUE") -> dict[str, str | None]:
    """``[K=V, K]`` or ``{K: V}`` as one mapping of strings.

    A list item without ``sep`` maps to ``empty`` (``None`` for environment: "take it
    from the shell"; ``""`` for labels). Mapping values that are numbers or booleans
    become the text compose would write.
    """
    if value is None:
        return {}
    if isinstance(value, dict):
        out: dict[str, str | None] = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                raise SyntaxProblem(f"expected a string, number or boolean for {k!r}, "
                                    f"got {kind_of(v)}")
            out[scalar_text(k)] = None if v is None else scalar_text(v)
        return out
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, (dict, list)) or item is None:
                raise SyntaxProblem(f"expected {what} strings, got {kind_of(item)}")
            text = scalar_text(item)
            k, found, v = text.partition(sep)
            out[k] = v if found else empty
        return out
    raise SyntaxProblem(f"expected a mapping or a list of {what} strings, got {kind_of(value)}")


def string_or_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [scalar_text(value)]
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) or item is None:
                raise SyntaxProblem(f"expected a list of strings, got {kind_of(item)} in it")
        return [scalar_text(v) for v in value]
    raise SyntaxProblem(f"expected a string or a list of strings, got {kind_of(value)}")


def command(value: Any) -> list[str] | None:
    """``command``/``entrypoint``: a string is split as a shell would, without a shell."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise SyntaxProblem(f"cannot split the command {value!r}: {e}")
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) or item is None:
                raise SyntaxProblem(f"expected a list of strings, got {kind_of(item)} in it")
        return [scalar_text(v) for v in value]
    raise SyntaxProblem(f"expected a string or a list of strings, got {kind_of(value)}")


def extra_hosts(value: Any) -> dict[str, list[str]]:
    """``[host:ip, host=ip]`` or ``{host: ip | [ips]}``; several IPs may be comma-separated."""
    out: dict[str, list[str]] = {}
    if value is None:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            ips = v if isinstance(v, list) else [v]
            for ip in ips:
                if isinstance(ip, (dict, list)) or ip is None:
                    raise SyntaxProblem(f"expected an IP address for host {k!r}, "
                                        f"got {kind_of(ip)}")
                out.setdefault(str(k), []).extend(scalar_text(ip).split(","))
        return out
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise SyntaxProblem(f"expected 'host=ip' strings, got {kind_of(item)}")
            for sep in ("=", ":"):
                host, found, ip = item.partition(sep)
                if found:
                    out.setdefault(host, []).extend(ip.split(","))
                    break
            else:
                raise SyntaxProblem(f"expected 'host=ip' or 'host:ip', got {item!r}")
        return out
    raise SyntaxProblem(f"expected a mapping or a list of 'host=ip', got {kind_of(value)}")


# -- ports ---------------------------------------------------------------------------

_PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str) -> tuple[int, int]:
    start, dash, end = text.partition("-")
    try:
        lo = int(start)
        hi = int(end) if dash else lo
    except ValueError:
        raise SyntaxProblem(f"expected a {what} port number or range, got {text!r}")
    for p in (lo, hi):
        if not 0 <= p <= 65535:
            raise SyntaxProblem(f"{what} port {p} is out of range: expected a port "
                                "number 0-65535")
    if hi < lo:
        raise SyntaxProblem(f"invalid {what} port range {text!r}: the end is before "
                            "the start")
    return lo, hi


def parse_port(value: Any) -> list[dict[str, Any]]:
    """``[ip:][host[-range]:]container[-range][/proto]`` as long-form entries.

    A container range with a host range of the same length becomes one entry per
    port, as docker compose expands it; a single container port with a host range
    stays one entry whose ``published`` is the range (any free port of it).
    """
    if isinstance(value, bool):
        raise SyntaxProblem(f"expected a port like '8080:80', got {value!r}")
    if isinstance(value, int):
        _port_range(str(value), "container")
        return [{"mode": "ingress", "target": value, "protocol": "tcp"}]
    if not isinstance(value, str):
        raise SyntaxProblem(f"expected a port like '8080:80' or a mapping, got {kind_of(value)}")
    text = value.strip()
    rest, slash, proto = text.partition("/")
    proto = proto.lower() if slash else "tcp"
    if proto not in _PROTOCOLS:
        raise SyntaxProblem(f"invalid protocol {proto!r} in port {value!r}: expected "
                            "tcp, udp or sctp")
    host_ip = ""
    if rest.startswith("["):  # [::1]:8080:80
        end = rest.find("]")
        if end < 0:
            raise SyntaxProblem(f"invalid IPv6 address in port {value!r}")
        host_ip, rest = rest[1:end], rest[end + 1:].lstrip(":")
        parts = rest.split(":")
        if len(parts) == 1:
            parts = ["", parts[0]]
    else:
        parts = rest.split(":")
        if len(parts) > 3:  # an unbracketed IPv6 host address
            host_ip = ":".join(parts[:-2])
            parts = parts[-2:]
        elif len(parts) == 3:
            host_ip = parts[0]
            parts = parts[1:]
    if len(parts) == 1:
        published, target = "", parts[0]
    else:
        published, target = parts
    if not target:
        raise SyntaxProblem(f"missing the container port in {value!r}")
    t_lo, t_hi = _port_range(target, "container")
    entries: list[dict[str, Any]] = []

    def entry(t: int, pub: str | None) -> dict[str, Any]:
        e: dict[str, Any] = {"mode": "ingress", "target": t, "protocol": proto}
        if host_ip:
            e["host_ip"] = host_ip
        if pub:
            e["published"] = pub
        return e

    if not published:
        return [entry(t, None) for t in range(t_lo, t_hi + 1)]
    p_lo, p_hi = _port_range(published, "published")
    if t_lo == t_hi:
        return [entry(t_lo, published if p_lo != p_hi else str(p_lo))]
    if p_hi - p_lo != t_hi - t_lo:
        raise SyntaxProblem(f"invalid port range {value!r}: the published range and the "
                            "container range have different lengths")
    for i in range(t_hi - t_lo + 1):
        entries.append(entry(t_lo + i, str(p_lo + i)))
    return entries


def check_published(value: Any) -> str | None:
    """The long form's ``published``: a port or a range, as a string (compose's type)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SyntaxProblem(f"expected a published port number or range, got {kind_of(value)}")
    text = str(value)
    _port_range(text, "published")
    return text


def check_target(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SyntaxProblem(f"expected a container port number, got {kind_of(value)}")
    lo, hi = _port_range(str(value), "container")
    if lo != hi:
        raise SyntaxProblem(f"expected a single container port, got the range {value!r}")
    return lo


# -- volumes -------------------------------------------------------------------------

_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def _is_bind_source(src: str) -> bool:
    return src.startswith(("/", ".", "~")) or "\\" in src or (len(src) > 1 and src[1] == ":")


def parse_volume(value: Any) -> dict[str, Any]:
    """``[source:]target[:options]`` as the long form.

    A source that looks like a path (``/``, ``.``, ``~``) is a bind mount, with
    ``create_host_path`` as docker compose sets it for the short syntax; any other
    source names a volume; a lone target is an anonymous volume.
    """
    if not isinstance(value, str):
        raise SyntaxProblem(f"expected a volume like 'data:/data' or a mapping, "
                            f"got {kind_of(value)}")
    if not value:
        raise SyntaxProblem("expected a volume like 'data:/data', got an empty string")
    parts = value.split(":")
    if len(parts) > 3:
        raise SyntaxProblem(f"invalid volume {value!r}: expected "
                            "[SOURCE:]TARGET[:MODE], with at most two ':'")
    options: list[str] = []
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "volume": {}}
    source, target = parts[0], parts[1]
    if len(parts) == 3:
        options = [o for o in parts[2].split(",") if o]
    if not target:
        raise SyntaxProblem(f"invalid volume {value!r}: the target path is empty")
    if not source:
        raise SyntaxProblem(f"invalid volume {value!r}: the source is empty")
    is_bind = _is_bind_source(source)
    out: dict[str, Any] = {"type": "bind" if is_bind else "volume", "source": source,
                           "target": target}
    bind: dict[str, Any] = {"create_host_path": True} if is_bind else {}
    vol: dict[str, Any] = {}
    for opt in options:
        if opt == "ro":
            out["read_only"] = True
        elif opt == "rw":
            out["read_only"] = False
        elif opt in ("z", "Z"):
            bind["selinux"] = opt
        elif opt in _PROPAGATION:
            bind["propagation"] = opt
        elif opt == "nocopy":
            vol["nocopy"] = True
        # other options (cached, delegated, a typo) are ignored, as compose-go's
        # ParseVolume ignores them: docker compose loads such a file
    if out.get("read_only") is False:
        del out["read_only"]
    if is_bind:
        if vol:
            raise SyntaxProblem(f"invalid volume {value!r}: 'nocopy' applies to volumes, "
                                "not bind mounts")
        out["bind"] = bind
    else:
        if "selinux" in bind or "propagation" in bind:
            out["bind"] = bind
        out["volume"] = vol
    return out


def parse_device(value: Any) -> dict[str, Any]:
    """``/dev/src[:/dev/dst[:rwm]]`` as ``{source, target, permissions}``."""
    if not isinstance(value, str):
        raise SyntaxProblem(f"expected a device like '/dev/ttyUSB0:/dev/ttyUSB0:rwm', "
                            f"got {kind_of(value)}")
    parts = value.split(":")
    if len(parts) > 3 or not parts[0]:
        raise SyntaxProblem(f"invalid device {value!r}: expected SOURCE[:TARGET[:PERMISSIONS]]")
    source = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else source
    perms = parts[2] if len(parts) > 2 else "rwm"
    if len(parts) == 2 and parts[1] and set(parts[1]) <= set("rwm") and \
            not parts[1].startswith("/"):
        target, perms = source, parts[1]
    if not perms:
        raise SyntaxProblem(f"invalid device {value!r}: the permissions are empty "
                            "(write a combination of r, w and m, or leave them out)")
    # other permissions than r, w and m load, as compose-go loads them: the engine
    # that creates the container is the one to judge them
    return {"source": source, "target": target, "permissions": perms}


_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


def check_restart(value: Any) -> str:
    text = scalar_text(value) if value is not False else "no"
    if not _RESTART.match(text):
        raise SyntaxProblem(f"invalid restart policy {text!r}: expected no, always, "
                            "on-failure[:MAX_RETRIES] or unless-stopped")
    return text


_PULL = re.compile(r"^(always|never|build|if_not_present|missing|refresh|daily|weekly|"
                   r"every_(\d+[wdhms])+)$")


def check_pull_policy(value: Any) -> str:
    text = scalar_text(value)
    if not _PULL.match(text):
        raise SyntaxProblem(f"invalid pull_policy {text!r}: expected always, never, missing, "
                            "build, daily, weekly or every_<duration>")
    return text


def check_octal_mode(value: Any) -> int:
    """File modes: YAML ints are taken as written in octal when they look octal
    (``0440`` reads as 288 in YAML 1.1 already); strings are parsed as octal."""
    if isinstance(value, bool):
        raise SyntaxProblem(f"expected a file mode like 0440, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            pass
    raise SyntaxProblem(f"expected a file mode like 0440, got {value!r}")
