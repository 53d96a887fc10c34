"""Compose commands (``config``, later ``up``, ``down``, ``ps``, ...): they call
``pycompose.compose``. Heavy imports happen inside the handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(p: argparse.ArgumentParser, command: str) -> None:
    if command == "config":
        p.add_argument("--format", choices=["yaml", "json"], default="yaml")
        p.add_argument("-q", "--quiet", action="store_true",
                       help="only validate the configuration, print nothing")
        p.add_argument("--services", action="store_true", help="print the service names")
        p.add_argument("--volumes", action="store_true", help="print the volume names")
        p.add_argument("--networks", action="store_true", help="print the network names")
        p.add_argument("--profiles", action="store_true", help="print the profile names")
        p.add_argument("--images", action="store_true", help="print the image names")
        p.add_argument("--hash", metavar="SERVICES",
                       help="print the config hash of these services ('*' for all)")
        p.add_argument("--no-interpolate", action="store_true",
                       help="don't interpolate environment variables")
        p.add_argument("-o", "--output", metavar="FILE",
                       help="write the result to FILE instead of standard output")
        p.set_defaults(handler=config)


def load_project(args: argparse.Namespace, *, interpolate: bool = True) -> Any:
    """The validated project that the global options (``-f``, ``-p``, ...) designate;
    its warnings are printed to stderr, as docker compose prints them."""
    from pycompose.compose.loader import LoadOptions, load
    from pycompose.compose.model import validate

    g = getattr(args, "global_options", None)
    opts = LoadOptions(
        files=tuple(getattr(g, "files", None) or ()),
        project_name=getattr(g, "project_name", None),
        project_directory=getattr(g, "project_directory", None),
        env_files=tuple(getattr(g, "env_files", None) or ()),
        profiles=tuple(getattr(g, "profiles", None) or ()),
        interpolate=interpolate,
    )
    project = validate(load(opts))
    for message in project.warnings:
        print(f"WARN: {message}", file=sys.stderr)
    return project


def config(args: argparse.Namespace) -> int:
    from pycompose.compose import render

    project = load_project(args, interpolate=not args.no_interpolate)
    if args.quiet:
        return 0
    lines: list[str] | None = None
    if args.services:
        lines = sorted(project.services)
    elif args.volumes:
        lines = sorted(project.volumes)
    elif args.networks:
        lines = sorted(render.project_dict(project).get("networks", {}))
    elif args.profiles:
        lines = render.all_profiles(project)
    elif args.images:
        lines = [render.image_name(project, n) for n in sorted(project.services)]
    elif args.hash:
        wanted = sorted(project.services) if args.hash.strip() == "*" else \
            [s.strip() for s in args.hash.split(",") if s.strip()]
        lines = []
        for name in wanted:
            if name not in project.services:
                from pycompose.compose.errors import ComposeError

                raise ComposeError(f"no such service: {name}")
            lines.append(f"{name} {render.service_hash(project, name)}")
    if lines is not None:
        text = "".join(f"{line}\n" for line in lines)
    else:
        data = render.project_dict(project)
        text = render.to_json(data) if args.format == "json" else render.to_yaml(data)
    if args.output:
        from pycompose.util.fs import atomic_write

        atomic_write(Path(args.output), text.encode())
    else:
        sys.stdout.write(text)
    return 0
