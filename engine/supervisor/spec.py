"""From ``run`` options and an image's config to a container's Config and HostConfig.

Pure functions with docker's rules (each one is what a docker user already relies on):
Entrypoint/Cmd overrides, Env merge, the shapes of ``-v``/``--mount``/``--tmpfs``,
sizes, ``--restart``, signals, healthchecks. (``-u`` is resolved by the runtime in the
container's own merged /etc/passwd, which only it sees.) Errors are
:class:`EngineError` with docker's exit code 125 (a bad request to the engine).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bad(msg: str) -> EngineError:
    return EngineError(msg, exit_code=125)


# -- command ----------------------------------------------------------------------------
def command_line(image_entrypoint: Sequence[str] | None, image_cmd: Sequence[str] | None,
                 entrypoint: str | Sequence[str] | None,
                 cmd: Sequence[str]) -> tuple[list[str], list[str]]:
    """(Entrypoint, Cmd) of the container, with docker's override rules.

    ``--entrypoint`` replaces the image's Entrypoint and drops the image's Cmd (an empty
    string clears the Entrypoint; a list, as compose gives it, is the exact argv);
    arguments after the image replace its Cmd.
    """
    if entrypoint is not None:
        if isinstance(entrypoint, str):
            ep = [entrypoint] if entrypoint else []
        else:
            ep = list(entrypoint)
        c = list(cmd)
    else:
        ep = list(image_entrypoint or [])
        c = list(cmd) if cmd else list(image_cmd or [])
    if not ep and not c:
        raise bad("No command specified: the image has no Cmd or Entrypoint; "
                  "give a command after the image name")
    return ep, c


# -- environment -----------------------------------------------------------------------
def parse_env_file(text: str, source: str = "env file") -> list[str]:
    """docker's ``--env-file``: ``KEY=VALUE`` lines, ``#`` comments, a bare ``KEY`` takes
    the value from the caller's environment (resolved by the caller)."""
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split("=", 1)[0]
        if not key or any(c.isspace() for c in key):
            raise bad(f"{source}:{lineno}: variable {key!r} contains whitespace")
        out.append(raw.lstrip())
    return out


def merge_env(image_env: Sequence[str] | None, user_env: Sequence[str],
              hostname: str | None = None) -> list[str]:
    """Image Env, then ``-e``/``--env-file`` (later wins), keeping first-seen order; PATH
    is added if neither gave one, as docker does; HOSTNAME first."""
    env: dict[str, str] = {}
    if hostname:
        env["HOSTNAME"] = hostname
    for item in list(image_env or []) + list(user_env):
        k, sep, v = item.partition("=")
        if not k:
            raise bad(f"invalid environment variable {item!r}")
        env[k] = v if sep else ""
    env.setdefault("PATH", DEFAULT_PATH)
    return [f"{k}={v}" for k, v in env.items()]


# -- sizes, cpus, signals, restart -----------------------------------------------------
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: str, what: str = "size") -> int:
    """``512m``, ``1g``, ``1048576``: docker's RAMInBytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", text.lower())
    if not m:
        raise bad(f"invalid {what} {text!r}: use a number with an optional unit "
                  "(b, k, m, g)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_cpus(text: str) -> int:
    """``--cpus 1.5`` as NanoCpus."""
    try:
        v = float(text)
    except ValueError:
        raise bad(f"invalid --cpus {text!r}: give a number such as 0.5")
    if v <= 0:
        raise bad(f"invalid --cpus {text!r}: must be positive")
    return int(v * 1e9)


def parse_signal(text: str | int | None, default: int = signal.SIGTERM) -> int:
    """``SIGTERM``, ``TERM``, ``15``."""
    if text is None or text == "":
        return int(default)
    if isinstance(text, int) or str(text).isdigit():
        n = int(text)
        if not 0 < n < 65:
            raise bad(f"invalid signal {text!r}")
        return n
    name = str(text).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise bad(f"invalid signal {text!r}")


def parse_duration(text: str, what: str = "duration") -> int:
    """Go's durations as docker takes them (``30s``, ``1m30s``, ``500ms``), in ns."""
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise bad(f"invalid {what} {text!r}: use a duration such as 30s, 1m30s or 500ms")
    return int(sum(float(n) * units[u] for n, u in parts))


def _seconds_or_duration(v: Any, what: str) -> int:
    if isinstance(v, (int, float)):
        return int(v * 10**9)
    return parse_duration(str(v), what)


def healthcheck(image_hc: dict[str, Any] | None, o: Mapping[str, Any]) -> dict[str, Any] | None:
    """The image's Healthcheck with ``--health-*`` on top; ``--no-healthcheck`` = NONE.
    A compose ``healthcheck`` mapping (``test``, ``interval``...) is taken too."""
    c = o.get("healthcheck") or {}
    if o.get("no_healthcheck") or c.get("disable"):
        return {"Test": ["NONE"]}
    hc = dict(image_hc or {})
    if c.get("test"):
        hc["Test"] = list(c["test"])
    for key, name in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        if c.get(key) is not None:
            hc[name] = _seconds_or_duration(c[key], f"healthcheck {key}")
    if c.get("retries") is not None:
        hc["Retries"] = int(c["retries"])
    if o.get("health_cmd"):
        hc["Test"] = ["CMD-SHELL", o["health_cmd"]]
    for flag, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                      ("health_start_period", "StartPeriod")):
        if o.get(flag):
            hc[key] = parse_duration(o[flag], "--" + flag.replace("_", "-"))
    if o.get("health_retries"):
        hc["Retries"] = int(o["health_retries"])
    return hc or None


def parse_restart(text: str | None) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``."""
    if not text:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = text.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise bad(f"invalid restart policy {text!r}: use no, always, unless-stopped or "
                  "on-failure[:max-retries]")
    if count and (name != "on-failure" or not count.isdigit()):
        raise bad(f"invalid restart policy {text!r}: only on-failure takes a retry count")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def parse_ulimit(text: str) -> dict[str, Any]:
    """``nofile=1024[:2048]``."""
    name, sep, vals = text.partition("=")
    soft, _, hard = vals.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise bad(f"invalid --ulimit {text!r}: use NAME=SOFT[:HARD]")
    if not sep or not name or s > h:
        raise bad(f"invalid --ulimit {text!r}: use NAME=SOFT[:HARD] with SOFT <= HARD")
    return {"Name": name, "Soft": s, "Hard": h}


# -- mounts ----------------------------------------------------------------------------
@dataclass
class MountReq:
    """One mount the user asked for (``-v``, ``--mount``, ``--tmpfs``) or the image's
    Volumes brought: ``type`` is bind, volume or tmpfs; ``source`` is the host path
    (bind) or the volume name ('' = anonymous)."""

    type: str
    target: str
    source: str = ""
    readonly: bool = False
    options: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"Type": self.type, "Source": self.source, "Target": self.target,
                "ReadOnly": self.readonly, "Options": self.options}


def _check_target(target: str, flag: str) -> str:
    if not target.startswith("/"):
        raise bad(f"invalid {flag}: the container path {target!r} must be absolute")
    return target.rstrip("/") or "/"


def parse_volume(text: str) -> MountReq:
    """``-v``: ``/ctr`` (anonymous), ``name:/ctr[:ro]``, ``/host:/ctr[:ro|rw]``."""
    parts = text.split(":")
    if len(parts) == 1:
        return MountReq("volume", _check_target(parts[0], "-v"))
    if len(parts) > 3:
        raise bad(f"invalid -v {text!r}: use SOURCE:TARGET[:ro]")
    src, target = parts[0], _check_target(parts[1], "-v")
    opts = parts[2].split(",") if len(parts) == 3 else []
    for o in opts:
        if o not in ("ro", "rw", "z", "Z", "nocopy", "shared", "private", "rprivate",
                     "slave", "rslave"):
            raise bad(f"invalid -v {text!r}: unknown option {o!r}")
    ro = "ro" in opts
    if src.startswith("/") or src.startswith("."):
        return MountReq("bind", target, src, ro, ["create-host-path"])  # docker's -v
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", src):
        raise bad(f"invalid -v {text!r}: {src!r} is neither a volume name nor an "
                  "absolute path")
    return MountReq("volume", target, src, ro, ["nocopy"] if "nocopy" in opts else [])


def parse_mount(text: str) -> MountReq:
    """``--mount type=bind,source=/a,target=/b,readonly``."""
    kv: dict[str, str] = {}
    for item in text.split(","):
        k, sep, v = item.partition("=")
        kv[k.strip()] = v if sep else "true"
    typ = kv.pop("type", "volume")
    target = kv.pop("target", None) or kv.pop("destination", None) or kv.pop("dst", None)
    if not target:
        raise bad(f"invalid --mount {text!r}: target is required")
    source = kv.pop("source", None) or kv.pop("src", None) or ""
    ro = kv.pop("readonly", kv.pop("ro", "false")) in ("true", "1")
    if typ not in ("bind", "volume", "tmpfs"):
        raise bad(f"invalid --mount {text!r}: type must be bind, volume or tmpfs")
    if typ == "bind" and not source.startswith("/"):
        raise bad(f"invalid --mount {text!r}: a bind source must be an absolute path")
    opts = []
    if "tmpfs-size" in kv:
        opts.append(f"size={parse_bytes(kv.pop('tmpfs-size'), 'tmpfs-size')}")
    if "tmpfs-mode" in kv:
        opts.append(f"mode={kv.pop('tmpfs-mode')}")
    if kv.pop("volume-nocopy", "false") == "true":
        opts.append("nocopy")
    return MountReq(typ, _check_target(target, "--mount"), source, ro, opts)


def parse_tmpfs(text: str) -> MountReq:
    """``--tmpfs /run[:size=64m,mode=1777]``."""
    target, _, opts = text.partition(":")
    return MountReq("tmpfs", _check_target(target, "--tmpfs"), "",
                    False, [o for o in opts.split(",") if o])


def all_mounts(volumes: Sequence[str], mounts: Sequence[str], tmpfs: Sequence[str],
               image_volumes: Mapping[str, Any] | None) -> list[MountReq]:
    """Every mount of the container; the image's Volumes become anonymous volumes unless
    the user mounted something at that path. Two mounts on one path is an error."""
    reqs = [parse_volume(v) for v in volumes] + [parse_mount(m) for m in mounts] + \
        [parse_tmpfs(t) for t in tmpfs]
    seen: set[str] = set()
    for r in reqs:
        if r.target in seen:
            raise bad(f"Duplicate mount point: {r.target}")
        seen.add(r.target)
    for path in image_volumes or {}:
        t = path.rstrip("/") or "/"
        if t not in seen:
            reqs.append(MountReq("volume", t))
            seen.add(t)
    return reqs


def parse_ports(specs: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """``-p [IP:][HOST:]CTR[/proto]`` as docker's PortBindings (served by netplug)."""
    out: dict[str, list[dict[str, str]]] = {}
    for s in specs:
        s_, _, proto = s.partition("/")
        parts = s_.rsplit(":", 2)
        ip, host, ctr = ("", "", parts[0]) if len(parts) == 1 else \
            ("", parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[1], parts[2])
        if not ctr.isdigit() or (host and not host.replace("-", "").isdigit()):
            raise bad(f"invalid -p {s!r}: use [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
        for number in [ctr, *(p for p in host.split("-") if p)]:
            if not 0 < int(number) <= 65535:
                raise bad(f"invalid -p {s!r}: port {number} is not in 1..65535")
        out.setdefault(f"{ctr}/{proto or 'tcp'}", []).append({"HostIp": ip, "HostPort": host})
    return out
