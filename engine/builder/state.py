"""A stage's state between instructions: its layers, its image config and history, and
the build arguments in scope; and the pure config changes of ENV, LABEL, CMD, ...

Only RUN, COPY, ADD and WORKDIR (when it must create the directory) make layers; the
other instructions change the config alone and are recomputed on every build (they are
pure functions of the parent config and the instruction), so the cache stores layers
only, and a build whose layers all come from the cache gives the same image id again
(the history keeps the times the layers were first made).
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from pycompose.util.records import field, record

from ..images.image import Image
from ..images.layerstore import LayerRef

#: proxy variables every build may pass (``--build-arg``) without an ARG; they reach RUN's
#: environment but never the cache key or the history (docker's predefined args)
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@record
class State:
    """Everything a stage has made so far."""

    layers: list[LayerRef] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the OCI config's "config"
    history: list[dict[str, Any]] = field(default_factory=list)
    platform: dict[str, str] = field(default_factory=dict)  # architecture, os, variant
    args: dict[str, str] = field(default_factory=dict)  # ARGs in scope, with values
    args_order: list[str] = field(default_factory=list)  # declared ARG names in order
    author: str = ""  # MAINTAINER
    base_name: str = ""  # the FROM line's image (for messages)
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT then keeps it)

    @classmethod
    def scratch(cls, platform: dict[str, str]) -> State:
        return cls(config={"Env": [f"PATH={DEFAULT_PATH}"]}, platform=dict(platform))

    @classmethod
    def of_image(cls, image: Image) -> State:
        cfg = copy.deepcopy(image.config)
        platform: dict[str, str] = {k: str(image.oci_config[k]) for k in
                                    ("architecture", "os", "variant") if k in image.oci_config}
        return cls(layers=list(image.layers), config=cfg, history=copy.deepcopy(image.history),
                   platform=platform, author=str(image.oci_config.get("author") or ""))

    def fork(self) -> State:
        """A copy for a stage built ``FROM`` this one (args do not cross stages)."""
        return State(list(self.layers), copy.deepcopy(self.config), copy.deepcopy(self.history),
                     dict(self.platform), {}, [], self.author, self.base_name)

    @property
    def top_chain(self) -> str:
        return self.layers[-1].chain_id if self.layers else "scratch"

    # -- the environment ----------------------------------------------------------------
    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` means in this stage now: the ARGs in scope, overridden by ENV
        (the reference: "ENV always overrides ARG of the same name")."""
        return {**self.args, **self.env_map()}

    def run_env(self, proxies: dict[str, str]) -> list[str]:
        """A RUN's environment: the image's Env, then the ARGs not set by ENV, then the
        predefined proxy args given with --build-arg."""
        env = self.env_map()
        for k, v in self.args.items():
            env.setdefault(k, v)
        for k, v in proxies.items():
            env.setdefault(k, v)
        env.setdefault("PATH", DEFAULT_PATH)
        return [f"{k}={v}" for k, v in env.items()]

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "/")

    def user(self) -> str:
        return str(self.config.get("User") or "")

    # -- config changes -----------------------------------------------------------------
    def set_env(self, key: str, value: str) -> None:
        env = [e for e in self.config.get("Env") or [] if str(e).partition("=")[0] != key]
        # docker keeps the position of a variable that is set again
        old = self.config.get("Env") or []
        for i, e in enumerate(old):
            if str(e).partition("=")[0] == key:
                env.insert(i, f"{key}={value}")
                break
        else:
            env.append(f"{key}={value}")
        self.config["Env"] = env

    def set_label(self, key: str, value: str) -> None:
        labels = dict(self.config.get("Labels") or {})
        labels[key] = value
        self.config["Labels"] = labels

    def set_workdir(self, path: str) -> str:
        wd = posixpath.normpath(posixpath.join(self.workdir(), path))
        if not wd.startswith("/"):
            wd = "/" + wd
        self.config["WorkingDir"] = wd
        return wd

    def add_ports(self, ports: list[str]) -> None:
        exposed = dict(self.config.get("ExposedPorts") or {})
        for p in ports:
            exposed[p] = {}
        self.config["ExposedPorts"] = exposed

    def add_volumes(self, paths: list[str]) -> None:
        vols = dict(self.config.get("Volumes") or {})
        for p in paths:
            vols[p] = {}
        self.config["Volumes"] = vols

    def record(self, created_by: str, *, created: str, author: str, layer: bool,
               comment: str = "") -> None:
        """One history entry."""
        h: dict[str, Any] = {"created": created, "created_by": created_by}
        if author:
            h["author"] = author
        if comment:
            h["comment"] = comment
        if not layer:
            h["empty_layer"] = True
        self.history.append(h)

    def latest_created(self, fallback: str) -> str:
        """When the newest layer of this state was made (config-only steps take that
        time, so that an all-cached build gives the same image id)."""
        for h in reversed(self.history):
            if not h.get("empty_layer") and h.get("created"):
                return str(h["created"])
        for h in reversed(self.history):
            if h.get("created"):
                return str(h["created"])
        return fallback

    def oci_config(self, created: str, author: str) -> dict[str, Any]:
        """The full OCI image config of this state."""
        out: dict[str, Any] = {
            "architecture": self.platform.get("architecture", ""),
            "os": self.platform.get("os", "linux"),
            "created": created,
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": [ly.diff_id for ly in self.layers]},
            "history": self.history,
        }
        if self.platform.get("variant"):
            out["variant"] = self.platform["variant"]
        if author:
            out["author"] = author
        return out
