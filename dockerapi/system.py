"""``/_ping``, ``/version``, ``/info``, ``/system/df``: what a client asks first.

``/_ping`` answers with the headers clients negotiate from (``API-Version``,
``Builder-Version: 1``: the classic builder's JSON stream, which is what ``POST /build``
speaks; the docker CLI falls back to it without buildx). ``/info`` counts containers
and images from the engine's records and stores, and describes the host as docker does,
so that ``docker info`` and testcontainers' checks read what they expect.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from pathlib import Path
from typing import Any

from pycompose import __version__

from . import versions
from .context import Context
from .http import Reply, Request, json_reply
from .routes import route


async def ping(ctx: Context, req: Request) -> Reply:
    headers = [("Builder-Version", "1"), ("Cache-Control", "no-cache, no-store, "
                                                          "must-revalidate"),
               ("Pragma", "no-cache"), ("Swarm", "inactive")]
    return Reply(200, b"OK", "text/plain; charset=utf-8", headers)


def version_doc() -> dict[str, Any]:
    uname = os.uname()
    details = {"ApiVersion": versions.API_VERSION, "Arch": _go_arch(),
               "BuildTime": "", "Experimental": "false", "GitCommit": "",
               "GoVersion": f"python{platform.python_version()}",
               "KernelVersion": uname.release, "MinAPIVersion": versions.MIN_VERSION,
               "Os": "linux"}
    return {
        "Platform": {"Name": f"pycompose {__version__}"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": versions.API_VERSION,
        "MinAPIVersion": versions.MIN_VERSION, "GitCommit": "",
        "GoVersion": details["GoVersion"], "Os": "linux", "Arch": _go_arch(),
        "KernelVersion": uname.release, "BuildTime": "",
    }


async def version(ctx: Context, req: Request) -> Reply:
    return json_reply(version_doc())


def _go_arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> tuple[str, str]:
    fields: dict[str, str] = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            k, _, v = line.partition("=")
            fields[k] = v.strip('"')
    except OSError:
        pass
    return fields.get("PRETTY_NAME", "Linux"), fields.get("VERSION_ID", "")


def _cgroup_version() -> str:
    return "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"


def info_doc(ctx: Context) -> dict[str, Any]:
    from pycompose.util.paths import root_id

    from ..engine.api.images import ImageStore

    recs = ctx.engine.containers()
    running = sum(1 for r in recs if r.status.value in ("running", "restarting"))
    paused = sum(1 for r in recs if r.status.value == "paused")
    n_images = len(ImageStore(ctx.root).images())
    os_name, os_version = _os_name()
    uname = os.uname()
    return {
        "ID": root_id(ctx.root), "Containers": len(recs), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": len(recs) - running - paused,
        "Images": n_images, "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                         ["Using metacopy", "false"], ["Native Overlay Diff", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"],
                    "Authorization": None, "Log": ["json-file", "local"]},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False,
        "KernelMemoryTCP": False, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False,
        "NGoroutines": 1, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z",
                                                      time.gmtime()),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs",
        "CgroupVersion": _cgroup_version(), "NEventsListener": 0,
        "KernelVersion": uname.release, "OperatingSystem": os_name,
        "OSVersion": os_version, "OSType": "linux", "Architecture": uname.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {}, "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(),
        "GenericResources": None, "DockerRootDir": str(ctx.root),
        "HttpProxy": os.environ.get("HTTP_PROXY", ""),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""), "Name": socket.gethostname(),
        "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"pycompose": {"path": "pycompose-runtime"}},
        "DefaultRuntime": "pycompose",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "tini",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"] +
                           (["name=cgroupns"] if _cgroup_version() == "2" else []),
        "CDISpecDirs": [], "Warnings": None,
    }


async def info(ctx: Context, req: Request) -> Reply:
    return json_reply(await ctx.call(info_doc, ctx))


async def df(ctx: Context, req: Request) -> Reply:
    from .usage import disk_usage_doc

    return json_reply(await ctx.call_slow(disk_usage_doc, ctx))


ROUTES = [
    route("GET", "/_ping", ping),
    route("HEAD", "/_ping", ping),
    route("GET", "/version", version),
    route("GET", "/info", info),
    route("GET", "/system/df", df),
]
