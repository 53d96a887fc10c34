"""Dockerfile-style config changes (``image import --change 'CMD ["sh"]'``, ``commit -c``)
and the pieces of a new image config. Pure functions."""

from __future__ import annotations

import json
import platform
import posixpath
import shlex
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidArgument

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "EXPOSE", "LABEL", "VOLUME",
             "STOPSIGNAL")


class BadChange(InvalidArgument):
    """A ``--change`` instruction that cannot be applied."""


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def go_arch() -> str:
    """The machine's architecture as image configs name it."""
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}.get(m, m)


def _command(value: str) -> list[str]:
    """Exec form (a JSON array of strings) or shell form (run by /bin/sh -c)."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, instr: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"``, or the legacy ``K some value`` form."""
    try:
        words = shlex.split(value)
    except ValueError as e:
        raise BadChange(f"{instr} {value}: {e}")
    if words and "=" not in words[0]:
        key, _, rest = value.strip().partition(" ")
        if not rest.strip():
            raise BadChange(f"{instr} {value}: expected KEY=VALUE")
        return [(key, rest.strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise BadChange(f"{instr} {value}: expected KEY=VALUE, got {w!r}")
        out.append((k, v))
    return out


def _ports(value: str) -> list[str]:
    out = []
    for word in value.split():
        port, _, proto = word.partition("/")
        proto = proto.lower() or "tcp"
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("tcp", "udp", "sctp"):
            raise BadChange(f"EXPOSE {value}: invalid port {word!r}")
        for p in range(int(lo), int(hi or lo) + 1):
            out.append(f"{p}/{proto}")
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """A copy of the image ``config`` section with the Dockerfile-style ``changes`` applied."""
    cfg = json.loads(json.dumps(config or {}))
    for change in changes:
        instr, _, value = change.strip().partition(" ")
        if not instr.isalpha():
            instr, _, value = change.strip().partition("\t")
        instr, value = instr.upper(), value.strip()
        if instr not in SUPPORTED:
            raise BadChange(f"{instr or change!r} is not a supported --change instruction "
                            f"(supported: {', '.join(SUPPORTED)})")
        if not value:
            raise BadChange(f"{instr} needs a value")
        if instr == "CMD":
            cfg["Cmd"] = _command(value)
        elif instr == "ENTRYPOINT":
            cfg["Entrypoint"] = _command(value)
        elif instr == "ENV":
            env = [e for e in cfg.get("Env") or []]
            for k, v in _pairs(value, instr):
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            cfg["Env"] = env
        elif instr == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            labels.update(_pairs(value, instr))
            cfg["Labels"] = labels
        elif instr == "WORKDIR":
            cfg["WorkingDir"] = posixpath.normpath(
                posixpath.join(cfg.get("WorkingDir") or "/", value))
        elif instr == "USER":
            cfg["User"] = value
        elif instr == "STOPSIGNAL":
            cfg["StopSignal"] = value
        elif instr == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            ports.update({p: {} for p in _ports(value)})
            cfg["ExposedPorts"] = ports
        elif instr == "VOLUME":
            vols = dict(cfg.get("Volumes") or {})
            paths = json.loads(value) if value.startswith("[") else value.split()
            vols.update({p: {} for p in paths})
            cfg["Volumes"] = vols
    return cfg


def new_config(*, config: dict[str, Any], diff_ids: list[str], history: list[dict[str, Any]],
               created: str, author: str = "") -> dict[str, Any]:
    """A full OCI image config."""
    out: dict[str, Any] = {
        "architecture": go_arch(),
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if author:
        out["author"] = author
    return out


def history_entry(*, created: str, created_by: str = "", comment: str = "", author: str = "",
                  empty_layer: bool = False) -> dict[str, Any]:
    h: dict[str, Any] = {"created": created}
    if created_by:
        h["created_by"] = created_by
    if comment:
        h["comment"] = comment
    if author:
        h["author"] = author
    if empty_layer:
        h["empty_layer"] = True
    return h
