"""Which stages a build runs, and in what order: the stages as a DAG, as BuildKit.

A stage depends on another when it is built ``FROM`` it, copies ``--from`` it, or binds
it with ``RUN --mount=from=``. Only the target stage (``--target``, else the last one)
and what it depends on are built; stages that do not depend on each other may run at
the same time (:mod:`.solve` runs them in parallel).

The meta args (``ARG`` before the first ``FROM``) are resolved here, with the automatic
platform args (``TARGETPLATFORM``, ``TARGETARCH``, ``BUILDPLATFORM``...), because the
``FROM`` lines and ``--from`` values are expanded with them. Pure functions.
"""

from __future__ import annotations

import os

from pycompose.util.records import field, record

from ..errors import InvalidArgument
from .dockerfile import Copy, Dockerfile, Run, Stage, parse_mount


def host_platform() -> dict[str, str]:
    machine = os.uname().machine.lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "i386": "386"}.get(machine, machine)
    out = {"os": "linux", "architecture": arch}
    if arch == "arm64":
        out["variant"] = "v8"
    elif arch == "arm":
        out["variant"] = "v7"
    return out


def platform_args(plat: dict[str, str]) -> dict[str, str]:
    spec = f"{plat['os']}/{plat['architecture']}" + (
        f"/{plat['variant']}" if plat.get("variant") else "")
    out = {}
    for who in ("TARGET", "BUILD"):
        out[f"{who}PLATFORM"] = spec
        out[f"{who}OS"] = plat["os"]
        out[f"{who}ARCH"] = plat["architecture"]
        out[f"{who}VARIANT"] = plat.get("variant", "")
    return out


def parse_platform(text: str) -> dict[str, str]:
    """``linux/amd64[/variant]``; only this machine's platform can be built here."""
    host = host_platform()
    if not text:
        return host
    parts = text.lower().split("/")
    if len(parts) < 2 or parts[0] != "linux" or parts[1] != host["architecture"]:
        raise InvalidArgument(f"--platform {text}: this builder makes images for its own "
                              f"platform only (linux/{host['architecture']}); there is no "
                              "emulation here")
    return host


@record
class StagePlan:
    stage: Stage
    base: str  # the FROM image, expanded ("scratch", a stage name, an image reference)
    base_stage: int | None = None  # index of the stage it is built FROM
    deps: set[int] = field(default_factory=set)  # stages it needs done first
    copy_from: dict[str, int] = field(default_factory=dict)  # --from value -> stage index


@record
class Plan:
    stages: list[StagePlan]  # the stages to build, in an order that respects deps
    target: int  # index (in the Dockerfile) of the stage whose image is the result
    meta: dict[str, str]  # the meta args' values (and the platform args)
    meta_declared: set[str]
    unused_args: list[str] = field(default_factory=list)

    def by_index(self, index: int) -> StagePlan:
        for sp in self.stages:
            if sp.stage.index == index:
                return sp
        raise KeyError(index)


def meta_values(df: Dockerfile, build_args: dict[str, str],
                plat: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    env = platform_args(plat)
    declared: set[str] = set()
    for arg in df.meta_args:
        for k, default in arg.pairs:
            k = df.expand(k, env, arg.line)
            declared.add(k)
            if k in build_args:
                env[k] = build_args[k]
            elif default is not None:
                env[k] = df.expand(default, env, arg.line)
    return env, declared


def _ref_stage(df: Dockerfile, ref: str, before: int) -> int | None:
    """The index of the stage ``ref`` names (by name, or by number), if it comes before
    stage ``before``."""
    s = df.stage(ref)
    if s is None:
        return None
    if s.index >= before:
        raise InvalidArgument(f"{df.name}:{df.stages[before].start.line}: stage {ref!r} is "
                              "used before it is defined (a stage may use only earlier "
                              "stages)")
    return s.index


def make_plan(df: Dockerfile, *, target: str, build_args: dict[str, str],
              plat: dict[str, str], contexts: set[str] = frozenset()) -> Plan:  # type: ignore[assignment]
    meta, declared = meta_values(df, build_args, plat)
    plans: dict[int, StagePlan] = {}
    for s in df.stages:
        base = df.expand(s.start.base, meta, s.start.line)
        if not base:
            raise df.error(s.start.line, f"FROM {s.start.base}: the base image name is empty "
                           "(is a build arg missing?)")
        sp = StagePlan(s, base)
        if base.lower() not in contexts:
            found = df.stage(base) if base.lower() != "scratch" else None
            if found is not None and found.name:
                if found.index >= s.index:
                    raise df.error(s.start.line, f"FROM {base}: a stage can only be built on "
                                   "an earlier stage")
                sp.base_stage = found.index
                sp.deps.add(found.index)
        for ins in s.instructions:
            refs = []
            if isinstance(ins, Copy) and ins.from_:
                refs.append(ins.from_)
            if isinstance(ins, Run):
                for raw in ins.mounts:
                    with_meta = df.expand(raw, meta, ins.line)
                    try:
                        m = parse_mount(with_meta)
                    except ValueError:
                        continue
                    if m.from_:
                        refs.append(m.from_)
            for ref in refs:
                value = df.expand(ref, meta, ins.line)
                if value in contexts:
                    continue
                idx = _ref_stage(df, value, s.index)
                if idx is not None:
                    sp.copy_from[value] = idx
                    sp.deps.add(idx)
        plans[s.index] = sp
    if target:
        t = df.stage(target)
        if t is None or (not t.name and not target.isdigit()):
            names = ", ".join(s.name for s in df.stages if s.name) or "none"
            raise InvalidArgument(f"target stage {target!r} could not be found in {df.name} "
                                  f"(its stages: {names})")
        tidx = t.index
    else:
        tidx = df.stages[-1].index
    # a stage depends only on earlier ones, so file order is a topological order
    needed = {tidx}
    todo = [tidx]
    while todo:
        for d in plans[todo.pop()].deps:
            if d not in needed:
                needed.add(d)
                todo.append(d)
    order = sorted(needed)
    used_args = set(declared)
    for i in order:
        for ins in plans[i].stage.instructions:
            from .dockerfile import Arg

            if isinstance(ins, Arg):
                used_args.update(k for k, _ in ins.pairs)
    from .state import PROXY_ARGS

    unused = sorted(k for k in build_args if k not in used_args and k not in PROXY_ARGS)
    return Plan([plans[i] for i in order], tidx, meta, declared, unused)
