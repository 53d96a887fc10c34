"""Relative host paths of a compose file made absolute, as docker compose resolves them.

Done per file (per YAML document) before merging, against the working folder of what
is being loaded (the project directory, an include's ``project_directory``, an
extended file's own folder), so that a file from another folder keeps meaning what
its author meant. Paths come out cleaned (no ``.``/``..`` steps); ``~`` is the
loading environment's ``HOME``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .yamlsrc import MDict

_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)", re.I)


_WINDOWS_ABS = re.compile(r"^([a-zA-Z]:[\\/]|[\\/]{2})")


def _abs_path(value: str, base: Path, home: str | None = None) -> str:
    if _WINDOWS_ABS.match(value):
        # C:\data, c:/data, \\server\share: absolute on the Windows side (a
        # Windows client of a Linux engine, or the reverse), kept as written
        return value
    if value == "~" or value.startswith("~/"):
        # the home of the environment the project is loaded with (its HOME)
        return os.path.normpath((home or os.path.expanduser("~")) + value[1:])
    if value.startswith("~"):
        return os.path.normpath(os.path.expanduser(value))
    if os.path.isabs(value):
        return value
    return os.path.normpath(base / value)


def _is_local_context(value: str) -> bool:
    """A folder, not a URL nor ``docker-image://``/``service:`` and the like."""
    return not _URL.match(value) and ":" not in value.split("/")[0]


def _is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def resolve_paths(doc: MDict, base: Path, shown: str, home: str | None = None) -> None:
    """Make the host paths of one file absolute, relative to ``base``.

    Done per file before merging, so that a file from another folder (``extends``,
    ``include``) keeps meaning what its author meant.
    """
    services = doc.get("services")
    if isinstance(services, dict):
        for svc in services.values():
            if isinstance(svc, MDict):
                _resolve_service_paths(svc, base, home)
    for section in ("secrets", "configs"):
        defs = doc.get(section)
        if isinstance(defs, dict):
            for d in defs.values():
                if isinstance(d, MDict) and isinstance(d.get("file"), str):
                    d["file"] = _abs_path(d["file"], base, home)
    volumes = doc.get("volumes")
    if isinstance(volumes, dict):
        for vol in volumes.values():
            # the local driver's bind (o: bind, device: ./data) is a host path
            opts = vol.get("driver_opts") if isinstance(vol, MDict) else None
            if isinstance(opts, MDict) and vol.get("driver") == "local" \
                    and opts.get("o") == "bind" and isinstance(opts.get("device"), str):
                opts["device"] = _abs_path(opts["device"], base, home)


def default_build_context(doc: MDict, project_dir: Path) -> None:
    """``build:`` without ``context`` builds the project directory. Set once a
    project's files are merged (an override's ``build: {target: x}`` keeps the
    context an earlier file gave), as compose-go's default values are."""
    services = doc.get("services")
    if not isinstance(services, MDict):
        return
    for svc in services.values():
        build = svc.get("build") if isinstance(svc, MDict) else None
        if isinstance(build, MDict) and build.get("context") is None:
            build.set("context", str(project_dir), build.key_marks.get("context"))


def _resolve_service_paths(svc: MDict, base: Path, home: str | None) -> None:
    build = svc.get("build")
    if isinstance(build, str) and not _URL.match(build):
        svc["build"] = _abs_path(build, base, home)
    elif isinstance(build, MDict):
        ctx = build.get("context")
        if isinstance(ctx, str) and not _URL.match(ctx):
            build["context"] = _abs_path(ctx, base, home)
        extra = build.get("additional_contexts")
        if isinstance(extra, MDict):
            for k, v in list(extra.items()):
                if isinstance(v, str) and _is_local_context(v):
                    extra[k] = _abs_path(v, base, home)
        elif isinstance(extra, list):  # [name=path, ...]
            for i, item in enumerate(extra):
                if isinstance(item, str) and "=" in item:
                    k, _, v = item.partition("=")
                    if _is_local_context(v):
                        extra[i] = f"{k}={_abs_path(v, base, home)}"
        ssh = build.get("ssh")  # [default, id=path] or {id: path}: the paths
        if isinstance(ssh, MDict):
            for k, v in list(ssh.items()):
                if isinstance(v, str) and v:
                    ssh[k] = _abs_path(v, base, home)
        elif isinstance(ssh, list):
            for i, item in enumerate(ssh):
                if isinstance(item, str) and "=" in item:
                    k, _, v = item.partition("=")
                    if v:
                        ssh[i] = f"{k}={_abs_path(v, base, home)}"
    for key in ("env_file", "label_file"):  # a path, or a list of paths / {path: ...}
        files = svc.get(key)
        if isinstance(files, str):
            svc[key] = _abs_path(files, base, home)
        elif isinstance(files, list):
            for i, item in enumerate(files):
                if isinstance(item, str):
                    files[i] = _abs_path(item, base, home)
                elif isinstance(item, MDict) and isinstance(item.get("path"), str):
                    item["path"] = _abs_path(item["path"], base, home)
    volumes = svc.get("volumes")
    if isinstance(volumes, list):
        for i, item in enumerate(volumes):
            if isinstance(item, str):
                parts = item.split(":")
                if len(parts) >= 2 and _is_bind_source(parts[0]):
                    volumes[i] = ":".join([_abs_path(parts[0], base, home), *parts[1:]])
            elif isinstance(item, MDict) and item.get("type") == "bind" \
                    and isinstance(item.get("source"), str):
                item["source"] = _abs_path(item["source"], base, home)
    develop = svc.get("develop")
    if isinstance(develop, MDict) and isinstance(develop.get("watch"), list):
        for rule in develop["watch"]:
            # a blank path stays blank, for the model to refuse it
            if isinstance(rule, MDict) and isinstance(rule.get("path"), str) \
                    and rule["path"]:
                rule["path"] = _abs_path(rule["path"], base, home)
