"""docker's rules for a container's Config, applied at create over the image's config
(pure functions; each is what a docker user already relies on): Entrypoint/Cmd
overrides, the Env merge, signals, the healthcheck over the image's, and the mounts the
image's VOLUMEs add. The request arrives typed (``engine/api/requests.py``): no flag
syntax is parsed here.
"""

from __future__ import annotations

import posixpath
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from pycompose.util.records import fields_of

from ..api.requests import Healthcheck, Mount
from ..errors import InvalidArgument

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bad(msg: str) -> InvalidArgument:
    return InvalidArgument(msg)


def check_cpus(nano_cpus: int) -> None:
    """docker's range for ``--cpus``: 0.01 up to the CPUs this process may use (past
    them, the kernel refused the quota with a bare EINVAL at start)."""
    import os

    n = len(os.sched_getaffinity(0))
    if nano_cpus and not 10_000_000 <= nano_cpus <= n * 1_000_000_000:
        raise bad(f"Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs "
                  "available")


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


def healthcheck(image_hc: Mapping[str, Any] | None, hc: Healthcheck | None
                ) -> dict[str, Any] | None:
    """The image's Healthcheck with the request's fields on top (docker's ns units);
    a disabled one is ``{"Test": ["NONE"]}``."""
    if hc is not None and hc.disable:
        return {"Test": ["NONE"]}
    out = dict(image_hc or {})
    if hc is not None:
        if hc.test:
            out["Test"] = list(hc.test)
        for key, name in (("interval", "Interval"), ("timeout", "Timeout"),
                          ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
            value = getattr(hc, key)
            if value is not None:
                out[name] = int(value)
        if hc.retries is not None:
            out["Retries"] = int(hc.retries)
    return out or None


def all_mounts(mounts: Sequence[Mount], image_volumes: Mapping[str, Any] | None
               ) -> list[Mount]:
    """Every mount of the container: the request's, then the image's VOLUMEs as
    anonymous volumes where the request mounts nothing. Two mounts on one path, or a
    mount on ``/`` itself, is an error."""
    seen: set[str] = set()
    out = []
    for m in mounts:
        # docker cleans the destination first: /tmp/.. and /./ are "/" too
        clean = "/" + posixpath.normpath(m.target).lstrip("/")
        if clean != m.target:
            m = Mount(**{f: getattr(m, f) for f in fields_of(Mount)})
            m.target = clean
        if m.target == "/":
            raise bad("invalid mount config: the destination \"/\" is the container's "
                      "root and cannot be a mount point")
        if m.target in seen:
            raise bad(f"Duplicate mount point: {m.target}")
        seen.add(m.target)
        out.append(m)
    for path in image_volumes or {}:
        t = path.rstrip("/") or "/"
        if t not in seen and t != "/":
            out.append(Mount("volume", t))
            seen.add(t)
    return out
