"""Compose commands (``config``, later ``up``, ``down``, ``ps``, ...): they call
``pycompose.compose``. Heavy imports happen inside the handlers."""

from __future__ import annotations

import argparse


def register(p: argparse.ArgumentParser, command: str) -> None:
    if command == "config":
        p.add_argument("--format", choices=["yaml", "json"], default="yaml")
        p.add_argument("-q", "--quiet", action="store_true",
                       help="only validate the configuration, print nothing")
        p.add_argument("--services", action="store_true", help="print the service names")
        p.add_argument("--volumes", action="store_true", help="print the volume names")
        p.add_argument("--profiles", action="store_true", help="print the profile names")
        p.add_argument("--images", action="store_true", help="print the image names")
        p.set_defaults(handler=config)


def config(args: argparse.Namespace) -> int:
    from pycompose.errors import PycomposeError

    raise PycomposeError("config is not implemented yet")
