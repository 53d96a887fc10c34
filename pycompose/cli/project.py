"""Compose commands (``config``, later ``up``, ``down``, ``ps``, ...): they call
``pycompose.compose``. Heavy imports happen inside the handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(p: argparse.ArgumentParser, command: str) -> None:
    if command == "config":
        p.add_argument("--format", choices=["yaml", "json", "table"], default=None,
                       help="yaml (the default) or json; with --variables also table "
                            "(its default)")
        p.add_argument("-q", "--quiet", action="store_true",
                       help="only validate the configuration, print nothing")
        p.add_argument("--services", action="store_true", help="print the service names")
        p.add_argument("--volumes", action="store_true", help="print the volume names")
        p.add_argument("--networks", action="store_true", help="print the network names")
        p.add_argument("--profiles", action="store_true", help="print the profile names")
        p.add_argument("--images", action="store_true", help="print the image names")
        p.add_argument("--hash", metavar="SERVICES",
                       help="print the config hash of these services ('*' for all)")
        p.add_argument("--variables", action="store_true",
                       help="print the model's variables and their default values")
        p.add_argument("--environment", action="store_true",
                       help="print the environment used for interpolation")
        p.add_argument("--no-interpolate", action="store_true",
                       help="don't interpolate environment variables")
        p.add_argument("--no-consistency", action="store_true",
                       help="don't check model consistency - warning: may produce "
                            "invalid Compose output")
        p.add_argument("--no-env-resolution", action="store_true",
                       help="don't resolve service env files")
        p.add_argument("--models", action="store_true", help="print the model names")
        for flag, why in (("--no-normalize", "don't normalize compose model"),
                          ("--no-path-resolution", "don't resolve file paths"),
                          ("--resolve-image-digests", "pin image tags to digests"),
                          ("--lock-image-digests",
                           "produce an override file with image digests")):
            p.add_argument(flag, action="store_true", help=f"{why} (not supported yet)")
        p.add_argument("-o", "--output", metavar="FILE",
                       help="write the result to FILE instead of standard output")
        p.add_argument("service_names", nargs="*", metavar="SERVICE",
                       help="only these services and what they depend on")
        p.set_defaults(handler=config)


def _load_options(args: argparse.Namespace, interpolate: bool) -> Any:
    from pycompose.compose.loader import LoadOptions

    g = getattr(args, "global_options", None)
    return LoadOptions(
        files=tuple(getattr(g, "files", None) or ()),
        project_name=getattr(g, "project_name", None),
        project_directory=getattr(g, "project_directory", None),
        env_files=tuple(getattr(g, "env_files", None) or ()),
        profiles=tuple(getattr(g, "profiles", None) or ()),
        interpolate=interpolate,
    )


def load_raw(args: argparse.Namespace, *, interpolate: bool = True) -> Any:
    """The loaded, not yet validated, project the global options designate; its
    warnings are printed to stderr."""
    from pycompose.compose.loader import load

    raw = load(_load_options(args, interpolate))
    for message in raw.warnings:
        print(f"WARN: {message}", file=sys.stderr)
    return raw


def load_project(args: argparse.Namespace, *, interpolate: bool = True,
                 **checks: bool) -> Any:
    """The validated project that the global options (``-f``, ``-p``, ...) designate;
    its warnings are printed to stderr, as docker compose prints them. ``checks`` go
    to :func:`~pycompose.compose.model.validate` (``consistency``, ``env_files``,
    ``lazy_env_files``)."""
    from pycompose.compose.loader import load
    from pycompose.compose.model import validate

    project = validate(load(_load_options(args, interpolate)), **checks)
    for message in project.warnings:
        print(f"WARN: {message}", file=sys.stderr)
    return project


def config(args: argparse.Namespace) -> int:
    from pycompose.compose import render
    from pycompose.compose.errors import ComposeError

    for flag in ("no_normalize", "no_path_resolution", "resolve_image_digests",
                 "lock_image_digests"):
        if getattr(args, flag, False):
            raise ComposeError(f"config --{flag.replace('_', '-')} is not supported by "
                               "pycompose yet")
    names = list(getattr(args, "service_names", None) or [])
    if args.variables:
        if names:
            print("WARN: service filtering is not applied when --variables is set, "
                  "variables from the full model will be rendered", file=sys.stderr)
        return _write(args, _variables_text(args))
    fmt = args.format or "yaml"
    if fmt == "table":
        raise ComposeError('unsupported format "table" (config prints yaml or json)')
    if args.no_interpolate and not (args.environment or args.volumes or args.networks
                                    or args.profiles or args.images or args.hash):
        # the model as loaded, not the typed project: ${VAR} may stand where a
        # number or a port is expected (docker compose's runConfigNoInterpolate),
        # and all of it: the services named are not picked out
        if names:
            print("WARN: service filtering is not applied when --no-interpolate is set, "
                  "the full model will be rendered", file=sys.stderr)
        data = render.raw_model_dict(load_raw(args, interpolate=False), [])
        if args.services:
            return _write(args, "".join(f"{name}\n" for name in data.get("services", {})))
        text = render.to_json(data) if fmt == "json" else render.to_yaml(data)
        return _write(args, text)
    hashed = [] if not args.hash or args.hash.strip() == "*" else \
        [s.strip() for s in args.hash.split(",") if s.strip()]
    # the env files of the services worked on are read, not every service's: a
    # missing one elsewhere does not stop 'config web' or 'config --hash web'
    project = load_project(args, interpolate=not args.no_interpolate,
                           consistency=not args.no_consistency,
                           env_files=not (args.no_env_resolution or args.services
                                          or args.volumes or args.networks
                                          or args.models),
                           lazy_env_files=bool(names or hashed))
    project = project.selected(names)
    if not getattr(getattr(args, "global_options", None), "all_resources", False):
        project = project.without_unused_resources()
    lines: list[str] | None = None
    if args.environment:
        # sorted as docker compose sorts them: the KEY=VALUE strings themselves
        lines = sorted(f"{k}={v}" for k, v in project.environment.items())
    elif args.services:
        lines = sorted(project.services)
    elif args.volumes:
        lines = sorted(project.volumes)
    elif args.networks:
        lines = sorted(render.project_dict(project).get("networks", {}))
    elif args.profiles:
        lines = render.all_profiles(project)
    elif args.images:
        lines = [i for n in sorted(project.services) for i in render.images_of(project, n)]
    elif args.models:
        lines = sorted({m.model for m in project.models.values() if m.model})
    elif args.hash:
        wanted = hashed or sorted(project.services)
        lines = []
        for name in wanted:
            if name not in project.services:
                raise ComposeError(f"no such service: {name}")
            if name in project.env_errors:
                raise project.env_errors[name]
            lines.append(f"{name} {render.service_hash(project, name)}")
    if lines is not None:
        text = "".join(f"{line}\n" for line in lines)
    else:
        if fmt == "json":
            text = render.to_json(render.project_json_dict(project))
        else:
            text = render.to_yaml(render.project_dict(project))
        # docker compose prints every $ of the interpolated model as $$, so that its
        # output loads back to the same project
        text = render.escape_dollars(text)
    return _write(args, text)


def _write(args: argparse.Namespace, text: str) -> int:
    if args.quiet:
        return 0
    if args.output:
        from pycompose.util.fs import atomic_write

        atomic_write(Path(args.output), text.encode())
    else:
        sys.stdout.write(text)
    return 0


def _variables_text(args: argparse.Namespace) -> str:
    """``config --variables``: the variables of the model loaded without
    interpolation (merged, included, extended), in docker compose's three shapes: a
    table (NAME, REQUIRED, DEFAULT VALUE, ALTERNATE VALUE; its default), Go's JSON
    of the map (4-space indent), or go-yaml's YAML of it (lowercased field names)."""
    from pycompose.compose import render
    from pycompose.compose.interpolate import extract_variables

    raw = load_raw(args, interpolate=False)
    variables = sorted(extract_variables(render.plain(raw.data)).items())
    fmt = args.format or "table"
    if fmt == "json":
        data = {name: {"Name": v.name, "DefaultValue": v.default,
                       "PresenceValue": v.alternate, "Required": v.required}
                for name, v in variables}
        return render.to_json(data, indent=4) + "\n"
    if fmt == "yaml":
        if not variables:
            return "{}\n"
        # go-yaml's Marshal: 4-space indentation, no line width
        def value(x: str) -> str:
            return render.yaml_scalar(x, indent=8, step=4, width=1 << 30)

        out: list[str] = []
        for name, v in variables:
            out.append(f"{value(name)}:")
            out.append(f"    name: {value(v.name)}")
            out.append(f"    defaultvalue: {value(v.default)}")
            out.append(f"    presencevalue: {value(v.alternate)}")
            out.append(f"    required: {'true' if v.required else 'false'}")
        return "\n".join(out) + "\n"
    rows = [["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"]]
    rows += [[name, "true" if v.required else "false", v.default, v.alternate]
             for name, v in variables]
    return render.tabwriter(rows, minwidth=20, padding=3)
